/**
 * The runs of a reproduction (`tools/reproduce.ts`): one run = one config row x one seed, trained with
 * the engine's `launch` and then analysed (AP + misalignment metrics) by `runAlignmentAnalysis`, in its
 * own folder `<output>/<row>/seed<s>/` (train output, checkpoints/, alignment/, run.json).
 *
 * Resumable: run.json records the run's settings and its state. A run whose run.json says "done" (with
 * its alignment.json present) is skipped; one with a final checkpoint is only analysed; one with
 * periodic checkpoints continues training from the last (launch's --resume); otherwise it starts.
 * A folder made with other training settings (config, overrides, seed) is never reused: that is an
 * error naming both, so a changed command line cannot mix runs; a changed `max_images` re-analyses.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@detr/core';
import { applyOverrides, loadConfigFile, resolveConfig } from '@detr/registry';
import { launch } from '../launch';
import { runAlignmentAnalysis, type AlignmentFile } from './run_analysis';

/** What makes a run: the row's config plus its override lines (without the output folder) and seed. */
export interface RunSpec {
  set: string;
  row: string;
  label: string;
  seed: number;
  project: string;
  /** Config file, relative to the repository root. */
  config_file: string;
  /** Every override of the run except train.output_dir (row, seed, max_iter and the user's). */
  overrides: string[];
  /** Images of the test set the analysis covers (null: all). Changing it re-analyses, not re-trains. */
  max_images: number | null;
}

export interface RunMetrics {
  AP: number | null;
  AP50: number | null;
  AP75: number | null;
  recall_top_n: number | null;
  recall_top_2n: number | null;
  pearson: number | null;
  br_iou_mean: number | null;
  hc_iou_mean: number | null;
  recall_curve: { multiple: number; recall: number | null }[];
  num_images: number;
  num_gt: number;
}

export interface RunRecord {
  version: 1;
  status: 'running' | 'done' | 'failed';
  spec: RunSpec;
  started?: string;
  finished?: string;
  metrics?: RunMetrics;
  error?: string;
}

export type RunStatus = 'done' | 'trained' | 'partial' | 'new';

export const RUN_RECORD = 'run.json';

export function runDir(root: string, spec: Pick<RunSpec, 'row' | 'seed'>): string {
  return join(resolve(root), spec.row, `seed${spec.seed}`);
}

export function readRunRecord(dir: string): RunRecord | null {
  const p = join(dir, RUN_RECORD);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as RunRecord;
  } catch (e) {
    throw new Error(`${p}: not readable as JSON (${(e as Error).message}); delete it to start this run again`);
  }
}

/** Same training: config, seed and overrides (the analysis settings may differ). */
function sameTraining(a: RunSpec, b: RunSpec): boolean {
  return a.config_file === b.config_file && a.seed === b.seed && JSON.stringify(a.overrides) === JSON.stringify(b.overrides);
}

/** Where a run stands; throws when its folder belongs to a run with other settings. */
export function runStatus(dir: string, spec: RunSpec): RunStatus {
  const record = readRunRecord(dir);
  if (record && !sameTraining(record.spec, spec)) {
    throw new Error(
      `${dir} holds a run with other settings:\n  there: ${record.spec.config_file} ${record.spec.overrides.join(' ')}\n  now:   ${spec.config_file} ${spec.overrides.join(' ')}\n` +
        'use another --output-dir, or delete that folder to run it again',
    );
  }
  const sameAnalysis = (record?.spec.max_images ?? null) === (spec.max_images ?? null);
  if (record?.status === 'done' && sameAnalysis && existsSync(join(dir, 'alignment', 'alignment.json'))) return 'done';
  if (existsSync(join(dir, 'checkpoints', 'model_final.safetensors'))) return 'trained';
  if (existsSync(join(dir, 'checkpoints', 'last_checkpoint'))) return 'partial';
  return 'new';
}

export function metricsFromAlignment(file: AlignmentFile): RunMetrics {
  const a = file.alignment;
  return {
    AP: file.bbox?.AP ?? null,
    AP50: file.bbox?.AP50 ?? null,
    AP75: file.bbox?.AP75 ?? null,
    recall_top_n: a.recall.top_n,
    recall_top_2n: a.recall.top_2n,
    pearson: a.matched.pearson,
    br_iou_mean: a.br_iou.mean,
    hc_iou_mean: a.hc_iou.mean,
    recall_curve: a.recall.curve,
    num_images: file.num_images,
    num_gt: a.num_gt,
  };
}

export interface ExecuteRunOptions {
  /** The repository root that `spec.config_file` is relative to. */
  repoRoot: string;
  backend?: string;
  threads?: number;
  log?: (line: string) => void;
}

/** Train (or continue) and analyse one run; returns its finished record. */
export async function executeRun(spec: RunSpec, dir: string, opts: ExecuteRunOptions): Promise<RunRecord> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const status = runStatus(dir, spec);
  if (status === 'done') return readRunRecord(dir)!;
  const record: RunRecord = { version: 1, status: 'running', spec, started: new Date().toISOString() };
  mkdirSync(dir, { recursive: true });
  const save = () => writeFileAtomic(join(dir, RUN_RECORD), JSON.stringify(record, null, 1));
  const file = resolve(opts.repoRoot, spec.config_file);
  const resolved = resolveConfig(applyOverrides(await loadConfigFile(file), [...spec.overrides, `train.output_dir=${dir}`]));
  save();
  try {
    if (status !== 'trained') {
      log(`[reproduce] ${spec.row} seed ${spec.seed}: ${status === 'partial' ? 'continuing the interrupted training' : 'training'} in ${dir}`);
      await launch({ resolved, file }, { mode: 'train', resume: true, backend: opts.backend, threads: opts.threads, log });
    } else {
      log(`[reproduce] ${spec.row} seed ${spec.seed}: already trained, analysing`);
    }
    const analysis = await runAlignmentAnalysis(
      { resolved, file },
      {
        checkpoint: join(dir, 'checkpoints', 'model_final.safetensors'),
        output_dir: join(dir, 'alignment'),
        max_images: spec.max_images ?? undefined,
        backend: opts.backend,
        threads: opts.threads,
        label: `${spec.row} seed ${spec.seed}`,
        log,
      },
    );
    record.metrics = metricsFromAlignment(analysis.file);
    record.status = 'done';
    record.finished = new Date().toISOString();
    save();
    return record;
  } catch (e) {
    record.status = 'failed';
    record.error = (e as Error).message;
    record.finished = new Date().toISOString();
    save();
    throw e;
  }
}
