/**
 * From a resolved config and a checkpoint to the misalignment analysis on the config's test loader
 * (`tools/analyze_alignment.ts`, and each run of `tools/reproduce.ts`): the engine's launch pieces
 * (backend, seed, async dataset setup, `instantiate(cfg.model)`, `loadInitCheckpoint`,
 * `dataloader.test`), a HungarianMatcher with the criterion's matching costs, one pass measuring AP
 * and the alignment metrics, then `alignment.json` and the PNG figures in the output folder.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { seedEverything, selectBackend, writeFileAtomic, type Module } from '@detr/core';
import { HungarianMatcher, MATCH_COST_KEYS, type HungarianMatcherOptions } from '@detr/matchers';
import { instantiate, runAsyncSetup, type ConfigNode } from '@detr/registry';
import { Checkpointer } from '../checkpoint';
import { loadInitCheckpoint } from '../launch';
import type { EvalLoader } from '../types';
import type { AlignmentOptions, AlignmentReport } from './alignment_accumulator';
import { writeAlignmentPlots } from './alignment_plots';
import { analyzeDetector, isAnalyzableDetector } from './analyze_detector';

export interface AlignmentRunOptions extends AlignmentOptions {
  /** Weights to analyse; default `train.init_checkpoint`, else the last checkpoint of `train.output_dir`. */
  checkpoint?: string;
  /** Where alignment.json and the PNGs go; default `<train.output_dir>/alignment`. */
  output_dir?: string;
  max_images?: number;
  /** Also measure COCO AP on the same images. Default true. */
  evaluate?: boolean;
  backend?: string;
  threads?: number;
  /** Shown in the plot titles. */
  label?: string;
  scale_confidence?: boolean;
  log?: (line: string) => void;
}

/** The content of alignment.json. */
export interface AlignmentFile {
  config: string | null;
  checkpoint: string;
  num_images: number;
  seconds: number;
  /** COCO bbox stats in percent (AP, AP50, AP75, ...) on the analysed images; null without evaluation. */
  bbox: Record<string, number> | null;
  matcher: { cost_class: number; cost_bbox: number; cost_giou: number };
  alignment: AlignmentReport;
  definitions: Record<string, string>;
}

export interface AlignmentRunResult {
  outputDir: string;
  file: AlignmentFile;
  files: string[];
}

export const ALIGNMENT_DEFINITIONS: Record<string, string> = {
  outputs: 'the final decoder layer in eval mode: pred_logits [Q, C] (sigmoid class probabilities) and pred_boxes [Q, 4] per image',
  br_sample: 'best-regressed sample of a GT: the output with the highest IoU with it (any class)',
  recall_top_n: 'fraction of all GTs whose BR sample is among the N (top_2n: 2N) most confident outputs of its image, N = GTs in the image',
  confidence: "max_class: a query's highest class probability; gt_class: the probability of the GT's class",
  hc_iou: "max_class: IoU (with the most-overlapping GT) of the N most confident outputs of each image; gt_class: per GT, IoU of the output most confident in the GT's class",
  matched: "final layer's one-to-one Hungarian matching with the criterion's costs; pearson = Pearson r of (confidence, IoU with the matched GT) over all matched pairs",
};

type AnyConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The matching costs of the config's criterion (HungarianMatcher or MixedMatcher keys); DINO's 2/5/2 without one. */
export function matcherCostsFromConfig(resolved: AnyConfig): HungarianMatcherOptions {
  const node = resolved?.model?.criterion?.matcher as AnyConfig | undefined;
  const out: Record<string, unknown> = {};
  if (node && typeof node === 'object') for (const k of MATCH_COST_KEYS) if (node[k] !== undefined) out[k] = node[k];
  return out as HungarianMatcherOptions;
}

function lastCheckpoint(outputDir: string): string | null {
  const ck = new Checkpointer(join(outputDir, 'checkpoints'));
  const name = ck.latest();
  return name ? join(ck.dir, `${name}.safetensors`) : null;
}

export async function runAlignmentAnalysis(cfg: { resolved: ConfigNode; file?: string }, opts: AlignmentRunOptions = {}): Promise<AlignmentRunResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = cfg.resolved as AnyConfig;
  if (!r.model) throw new Error('the config has no "model"');
  if (!r.dataloader?.test) throw new Error('the config has no "dataloader.test" (the analysis runs on the test loader)');
  const trainDir = resolve(String(r.train?.output_dir ?? './output'));
  const checkpoint = opts.checkpoint || r.train?.init_checkpoint || lastCheckpoint(trainDir);
  if (!checkpoint) throw new Error(`no weights to analyse: give train.init_checkpoint=FILE (or train a model into ${trainDir} first)`);
  const outputDir = resolve(opts.output_dir ?? join(trainDir, 'alignment'));
  mkdirSync(outputDir, { recursive: true });

  await selectBackend({ backend: opts.backend ?? (r.train?.backend || undefined), threads: opts.threads, log });
  seedEverything(Number(r.train?.seed ?? 42));
  await runAsyncSetup(r);
  const model = instantiate<Module>(r.model);
  if (!isAnalyzableDetector(model)) throw new Error(`model ${(model as object)?.constructor?.name} has no forward(batch, {training}) and predict(batch)`);
  loadInitCheckpoint(model, checkpoint, log);
  const loader = instantiate<EvalLoader>(r.dataloader.test);
  const costs = matcherCostsFromConfig(r);
  const matcher = new HungarianMatcher(costs);

  const total = opts.max_images ? Math.min(opts.max_images, loader.dataset.length) : loader.dataset.length;
  log(`[analyze] ${total} images of the test set, matching costs class ${matcher.weights.costClass} / bbox ${matcher.weights.costBbox} / giou ${matcher.weights.costGiou}`);
  const result = analyzeDetector(model, loader, { ...opts, matcher, print: undefined });
  const report = result.alignment.report();
  const file: AlignmentFile = {
    config: cfg.file ?? null,
    checkpoint: resolve(checkpoint),
    num_images: result.numImages,
    seconds: result.seconds,
    bbox: result.evaluation ? { ...result.evaluation.named } : null,
    matcher: { cost_class: matcher.weights.costClass, cost_bbox: matcher.weights.costBbox, cost_giou: matcher.weights.costGiou },
    alignment: report,
    definitions: ALIGNMENT_DEFINITIONS,
  };
  writeFileAtomic(join(outputDir, 'alignment.json'), JSON.stringify(file, null, 1));
  const files = [join(outputDir, 'alignment.json'), ...writeAlignmentPlots(outputDir, report, result.alignment.samples, { label: opts.label, scale_confidence: opts.scale_confidence })];
  model.dispose?.();
  for (const line of formatAlignmentSummary(file)) log(line);
  log(`[analyze] written ${files.join(', ')}`);
  return { outputDir, file, files };
}

/** A few readable lines for the console. */
export function formatAlignmentSummary(file: AlignmentFile): string[] {
  const a = file.alignment;
  const f = (v: number | null, d = 3) => (v === null ? 'n/a' : v.toFixed(d));
  const lines = [`[analyze] ${file.num_images} images, ${a.num_gt} GT boxes (${a.num_images_with_gt} images with GT), ${file.seconds.toFixed(1)} s`];
  if (file.bbox) lines.push(`[analyze] AP ${file.bbox.AP.toFixed(2)}  AP50 ${file.bbox.AP50.toFixed(2)}  AP75 ${file.bbox.AP75.toFixed(2)}`);
  lines.push(`[analyze] recall of best-regressed samples (${a.confidence}): top-N ${f(a.recall.top_n)}  top-2N ${f(a.recall.top_2n)}`);
  lines.push(`[analyze] IoU of BR samples: mean ${f(a.br_iou.mean)} median ${f(a.br_iou.median)};  HC samples: mean ${f(a.hc_iou.mean)} median ${f(a.hc_iou.median)}`);
  lines.push(`[analyze] matched outputs: ${a.matched.count}, Pearson(confidence ${a.matched_confidence}, IoU) = ${f(a.matched.pearson)}`);
  return lines;
}
