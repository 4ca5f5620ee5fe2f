/**
 * Reproduction driver for the Align-DETR paper's comparisons (issue 9): runs a named set of config rows
 * for several seeds, each run = train (the engine's `launch`) then analyse (COCO AP + the misalignment
 * metrics of tools/analyze_alignment.ts), and writes a Markdown table (mean ± std over seeds, n per row)
 * with the per-run values and bar charts.
 *   npx tsx tools/reproduce.ts --set align-vs-dino --seeds 3
 *   npx tsx tools/reproduce.ts --set tableB --seeds 3 --max-iter 1500 --output-dir output/reproduce/tableB
 *   npx tsx tools/reproduce.ts --set table5 --seeds 3 --dry-run          # the plan and the equivalent commands
 * Sets: align-vs-dino (DINO with focal loss vs Align-DETR with IA-BCE), and the paper's ablation tables
 * table4, table5, table6a, table6b, table6c, table8, tableB, whose rows come from
 * projects/align-detr/configs/ablations/_rows.ts applied to the base (`--base small`: the embedded
 * MNIST-detection configs; `--base coco`: the R50 COCO configs).
 *
 * Each run lives in `<output-dir>/<row>/seed<s>/` and is its own child process (memory is returned to
 * the system between runs). Resumable: rerunning the same command skips finished runs, continues an
 * interrupted training from its last checkpoint, and only re-analyses a run whose training finished.
 * The report (results.md, results.json, summary_*.png, recall_curves.png) is rewritten after every run.
 * Trailing key=value arguments override the config of every run (e.g. train.eval_period=0).
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { applyOverrides, loadConfigFile, resolveConfig, type ConfigNode } from '@detr/registry';
import { findConfigFile, REPO_ROOT, splitPositionals } from './cli_common';

type Base = 'small' | 'coco';

/** One row of a set: a config of a project plus override lines. */
interface SetRow {
  name: string;
  label: string;
  project: string;
  /** Config name within the project (or a path). */
  config: string;
  overrides: string[];
  paper?: { AP?: number; AP50?: number; AP75?: number };
}

interface ReproduceSet {
  title: string;
  rows(base: Base): Promise<SetRow[]>;
}

/** What tools/reproduce.ts uses of projects/align-detr/configs/ablations/_rows.ts. */
interface AblationModule {
  ablationRows(): { name: string; table: string; label: string; paper: { AP: number; AP50?: number; AP75?: number } }[];
  ablationOverrides(cfg: ConfigNode, name: string): string[];
  ABLATION_BASE_CONFIG: string;
}

const ABLATIONS_FILE = join(REPO_ROOT, 'projects/align-detr/configs/ablations/_rows.ts');

async function loadAblations(): Promise<AblationModule> {
  if (!existsSync(ABLATIONS_FILE)) throw new Error(`the ablation rows are not in this checkout (${relative(REPO_ROOT, ABLATIONS_FILE)} is missing)`);
  return (await import(pathToFileURL(ABLATIONS_FILE).href)) as AblationModule;
}

/** The small embedded-dataset configs, and the COCO R50 12-epoch configs. */
const BASES: Record<Base, { dino: string; align: string }> = {
  small: { dino: 'dino_small_mnist', align: 'aligndetr_small_mnist' },
  coco: { dino: 'dino_r50_4scale_12ep', align: 'aligndetr_k2_r50_4scale_12ep' },
};

/** Rows of one paper table applied to the Align-DETR base of `base` (the row's overrides read its decoder depth). */
function ablationSet(table: string, title: string): ReproduceSet {
  return {
    title,
    async rows(base) {
      const ab = await loadAblations();
      const config = base === 'small' ? BASES.small.align : ab.ABLATION_BASE_CONFIG;
      const baseCfg = await loadConfigFile(findConfigFile(config, 'align-detr'));
      return ab
        .ablationRows()
        .filter((r) => r.table === table)
        .map((r) => ({ name: r.name, label: r.label, project: 'align-detr', config, overrides: ab.ablationOverrides(baseCfg, r.name), paper: r.paper }));
    },
  };
}

const SETS: Record<string, ReproduceSet> = {
  'align-vs-dino': {
    title: 'DINO (focal loss) vs Align-DETR (IA-BCE, mixed matching, prime sample weighting)',
    async rows(base) {
      return [
        // Paper Table 3, 12 epochs (COCO val): DINO 49.0 / 66.6 / 53.5, Align-DETR 50.2 / 67.8 / 54.4.
        { name: 'dino_focal', label: 'DINO (focal loss)', project: 'dino', config: BASES[base].dino, overrides: [], paper: { AP: 49.0, AP50: 66.6, AP75: 53.5 } },
        { name: 'aligndetr_ia_bce', label: 'Align-DETR (IA-BCE)', project: 'align-detr', config: BASES[base].align, overrides: [], paper: { AP: 50.2, AP50: 67.8, AP75: 54.4 } },
      ];
    },
  },
  table4: ablationSet('4', 'Table 4: classification losses against the misalignment problem'),
  table5: ablationSet('5', 'Table 5: IA-BCE and mixed matching on / off'),
  table6a: ablationSet('6a', 'Table 6(a): alpha'),
  table6b: ablationSet('6b', 'Table 6(b): k'),
  table6c: ablationSet('6c', 'Table 6(c): tau'),
  table8: ablationSet('8', 'Table 8: k with and without prime sample weighting'),
  tableB: ablationSet('B', 'Table B: IA-BCE weight variants (w_pos, w_neg)'),
};

/** Quote an argument for a POSIX shell when it needs it (for the printed commands). */
function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** A path as the printed commands show it: relative inside the repository, absolute outside. */
function displayPath(p: string): string {
  const rel = relative(REPO_ROOT, p);
  return rel.startsWith('..') ? resolve(p) : rel;
}

interface WorkerJob {
  spec: import('@detr/engine').RunSpec;
  dir: string;
  backend?: string;
  threads?: number;
}

/** Child process: train and analyse one run, logging to the console and to <run>/log.txt. */
async function runWorker(json: string): Promise<void> {
  const job = JSON.parse(json) as WorkerJob;
  mkdirSync(job.dir, { recursive: true });
  const logFile = join(job.dir, 'log.txt');
  const log = (line: string) => {
    console.log(line);
    appendFileSync(logFile, `${line}\n`);
  };
  const { executeRun } = await import('@detr/engine');
  await executeRun(job.spec, job.dir, { repoRoot: REPO_ROOT, backend: job.backend, threads: job.threads, log });
}

async function main(): Promise<void> {
  const program = new Command()
    .name('reproduce')
    .description('Train and analyse a set of configs over several seeds; write a results table (mean ± std) and plots')
    .option('--set <name>', `the set of rows: ${Object.keys(SETS).join(', ')}`)
    .option('--seeds <n>', 'number of seeds per row', (v) => parseInt(v, 10), 3)
    .option('--first-seed <s>', 'seeds are first-seed .. first-seed + n - 1', (v) => parseInt(v, 10), 0)
    .addOption(new Option('--base <base>', 'configs: small (embedded MNIST-detection data) or coco (R50, COCO 2017)').choices(['small', 'coco']).default('small'))
    .option('--rows <names>', 'only these rows (comma-separated names)')
    .option('--max-iter <n>', 'train.max_iter of every run (the LR schedule follows it)', (v) => parseInt(v, 10))
    .option('--max-images <n>', 'analyse (and measure AP on) only the first n test images', (v) => parseInt(v, 10))
    .option('--output-dir <dir>', 'root folder of the runs and the report (default output/reproduce/<set>-<base>)')
    .option('--dry-run', 'print the runs, their state and the equivalent train/analyze commands; run nothing')
    .option('--backend <name>', 'force a tfjs backend: wasm, cpu, node, node-gpu')
    .option('--threads <n>', 'wasm threads (default: all cores)', (v) => parseInt(v, 10))
    .addOption(new Option('--worker <job>').hideHelp())
    .argument('[overrides...]', 'key=value overrides applied to every run')
    .allowExcessArguments(false)
    .showHelpAfterError();
  program.parse(process.argv);
  const opts = program.opts<{
    set?: string;
    seeds: number;
    firstSeed: number;
    base: Base;
    rows?: string;
    maxIter?: number;
    maxImages?: number;
    outputDir?: string;
    dryRun?: boolean;
    backend?: string;
    threads?: number;
    worker?: string;
  }>();
  if (opts.worker) return runWorker(opts.worker);

  const { overrides: userOverrides, inputs } = splitPositionals(program.args);
  if (inputs.length) throw new Error(`unexpected arguments: ${inputs.join(' ')} (overrides are key=value)`);
  if (!opts.set) throw new Error(`give --set: ${Object.keys(SETS).join(', ')}`);
  const set = SETS[opts.set];
  if (!set) throw new Error(`unknown set "${opts.set}"; sets: ${Object.keys(SETS).join(', ')}`);
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  positive('--seeds', opts.seeds);
  positive('--max-iter', opts.maxIter);
  positive('--max-images', opts.maxImages);
  if (!Number.isInteger(opts.firstSeed) || opts.firstSeed < 0) throw new Error(`--first-seed must be an integer >= 0, got ${opts.firstSeed}`);

  let rows = await set.rows(opts.base);
  if (opts.rows) {
    const wanted = opts.rows.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = wanted.filter((w) => !rows.some((r) => r.name === w));
    if (unknown.length) throw new Error(`unknown rows ${unknown.join(', ')} in set ${opts.set}; rows: ${rows.map((r) => r.name).join(', ')}`);
    rows = rows.filter((r) => wanted.includes(r.name));
  }
  const seeds = Array.from({ length: opts.seeds }, (_, i) => opts.firstSeed + i);
  const root = resolve(opts.outputDir ?? join('output', 'reproduce', `${opts.set}-${opts.base}`));
  const engine = await import('@detr/engine');

  // The plan; every row's config is loaded, overridden and resolved once here, so a bad override fails
  // before any training starts.
  const plan: { spec: import('@detr/engine').RunSpec; dir: string; status: string }[] = [];
  for (const row of rows) {
    const file = findConfigFile(row.config, row.project);
    const rowOverrides = [...row.overrides, ...(opts.maxIter ? [`train.max_iter=${opts.maxIter}`] : []), ...userOverrides];
    try {
      resolveConfig(applyOverrides(await loadConfigFile(file), rowOverrides));
    } catch (e) {
      throw new Error(`row ${row.name} (${relative(REPO_ROOT, file)}): ${(e as Error).message}`);
    }
    for (const seed of seeds) {
      const spec = {
        set: opts.set,
        row: row.name,
        label: row.label,
        seed,
        project: row.project,
        config_file: relative(REPO_ROOT, file),
        overrides: [...rowOverrides, `train.seed=${seed}`],
        max_images: opts.maxImages ?? null,
      };
      const dir = engine.runDir(root, spec);
      plan.push({ spec, dir, status: engine.runStatus(dir, spec) });
    }
  }

  console.log(`[reproduce] ${set.title}: ${rows.length} rows x ${seeds.length} seeds (${opts.base} base) in ${root}`);
  if (opts.dryRun) {
    for (const { spec, dir, status } of plan) {
      const cfgArgs = ['--project', spec.project, '--config-file', spec.config_file];
      const train = ['npx', 'tsx', 'tools/train_net.ts', ...cfgArgs, '--output-dir', displayPath(dir), ...(status === 'partial' ? ['--resume'] : []), ...spec.overrides];
      const analyze = ['npx', 'tsx', 'tools/analyze_alignment.ts', ...cfgArgs, '--output-dir', displayPath(join(dir, 'alignment')), ...(spec.max_images ? ['--max-images', String(spec.max_images)] : []), ...spec.overrides, `train.init_checkpoint=${displayPath(join(dir, 'checkpoints', 'model_final.safetensors'))}`];
      console.log(`\n[${status}] ${spec.row} seed ${spec.seed}: ${spec.label}`);
      if (status === 'done') continue;
      if (status !== 'trained') console.log(`  ${train.map(shellQuote).join(' ')}`);
      console.log(`  ${analyze.map(shellQuote).join(' ')}`);
    }
    return;
  }

  mkdirSync(root, { recursive: true });
  const command = ['npx tsx tools/reproduce.ts', ...process.argv.slice(2).map(shellQuote)].join(' ');
  const problems = new Map<string, string>();
  const writeReport = () => {
    const records = plan.map((p) => engine.readRunRecord(p.dir)).filter((r): r is NonNullable<typeof r> => r !== null);
    for (const r of records) if (r.status === 'failed') problems.set(`${r.spec.row} seed ${r.spec.seed}`, r.error ?? 'failed');
    const notes = [
      `Base: ${opts.base === 'small' ? 'the embedded MNIST-detection data set and the projects\' small configs' : 'COCO 2017 and the R50 4-scale 12-epoch configs'}` +
        `${opts.maxIter ? `, ${opts.maxIter} iterations per run` : ''}${opts.maxImages ? `, metrics on the first ${opts.maxImages} test images` : ''}` +
        `${userOverrides.length ? ', with the overrides of the command above' : ''}.`,
      "The paper's numbers are COCO val with R50 at full scale: compare directions, not values.",
    ];
    return engine.writeReproduceReport(root, rows, records, {
      title: set.title,
      shortTitle: `${opts.set} (${opts.base})`,
      command,
      seeds,
      problems: [...problems].map(([k, v]) => `${k}: ${v}`),
      notes,
    });
  };

  let failures = 0;
  for (const [i, { spec, dir }] of plan.entries()) {
    const status = engine.runStatus(dir, spec);
    const tag = `[reproduce] run ${i + 1}/${plan.length} ${spec.row} seed ${spec.seed}`;
    if (status === 'done') {
      console.log(`${tag}: done, skipped (${displayPath(dir)})`);
      continue;
    }
    console.log(`${tag}: ${status === 'new' ? 'starting' : status === 'partial' ? 'resuming the interrupted training' : 'trained, analysing'}`);
    const job: WorkerJob = { spec, dir, backend: opts.backend, threads: opts.threads };
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', JSON.stringify(job)], { cwd: REPO_ROOT, stdio: 'inherit' });
    if (child.status !== 0) {
      failures++;
      const why = child.error?.message ?? (child.signal ? `killed by ${child.signal}` : `exit code ${child.status}`);
      if (!problems.has(`${spec.row} seed ${spec.seed}`)) problems.set(`${spec.row} seed ${spec.seed}`, why);
      console.error(`${tag}: failed (${why}); see ${join(dir, 'log.txt')}`);
    }
    writeReport();
  }
  const files = writeReport();
  console.log(`[reproduce] report: ${files.join(', ')}`);
  if (failures) throw new Error(`${failures} run(s) failed; rerun the same command to retry them (finished runs are skipped)`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`error: ${e.message}`);
    if (process.env.DETR_DEBUG) console.error(e.stack);
    process.exit(1);
  },
);
