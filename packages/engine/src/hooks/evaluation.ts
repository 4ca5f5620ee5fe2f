/**
 * Periodic COCO evaluation (detectron2 EvalHook): every `eval_period` iterations (0: none) and after the last (a negative eval_period: never),
 * print the 12 stats, append them to metrics.jsonl, draw a few validation images with predicted and
 * ground-truth boxes, and redraw the loss and AP curves.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { evaluateDetector, type EvaluationResult } from '../evaluation';
import { drawBoxes, type DrawBox } from '../plot';
import type { Hook, Trainer } from '../trainer';
import type { Batch, Detections, EvalLoader } from '../types';
import type { MetricsLog } from './metrics';
import { writeTrainingPlots } from './plots';

export interface EvalHookOptions {
  loader: EvalLoader;
  period: number;
  outputDir: string;
  metrics: MetricsLog;
  /** Pixel normalisation used by the loader, to draw the images back. */
  pixelMean: number[];
  pixelStd: number[];
  classNames?: string[];
  numVisualize?: number;
  scoreThreshold?: number;
  log?: (line: string) => void;
}

/** The image of batch item i as RGB uint8 (unpadded, un-normalised). */
export function batchImageRgb(batch: Batch, i: number, mean: number[], std: number[]): { data: Uint8Array; height: number; width: number } {
  const [h, w] = batch.imageSizes[i];
  const data = tf.tidy(() =>
    batch.images.slice([i, 0, 0, 0], [1, h, w, 3]).squeeze([0]).mul(tf.tensor1d(std)).add(tf.tensor1d(mean)).clipByValue(0, 255).round().dataSync(),
  );
  return { data: Uint8Array.from(data), height: h, width: w };
}

/** Boxes to draw for item i: GT (dashed, green) and detections above a score threshold (red). */
export function visualizationBoxes(batch: Batch, i: number, det: Detections, threshold: number, classNames?: string[]): DrawBox[] {
  const [h, w] = batch.imageSizes[i];
  const [oh, ow] = batch.origSizes[i];
  const sx = w / ow, sy = h / oh;
  const name = (l: number) => classNames?.[l] ?? String(l);
  const out: DrawBox[] = [];
  const t = batch.targets[i];
  for (let j = 0; j < t.labels.length; j++) {
    const [cx, cy, bw, bh] = t.boxes.subarray(j * 4, j * 4 + 4);
    out.push({ box: [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], label: '', color: '#22bb44', dashed: true });
  }
  for (let j = 0; j < det.scores.length; j++) {
    if (det.scores[j] < threshold) continue;
    const [x1, y1, x2, y2] = det.boxes.subarray(j * 4, j * 4 + 4);
    out.push({ box: [x1 * sx, y1 * sy, x2 * sx, y2 * sy], label: `${name(det.labels[j])} ${det.scores[j].toFixed(2)}`, color: '#e0302a' });
  }
  return out;
}

export class EvalHook implements Hook {
  lastResult: EvaluationResult | null = null;

  constructor(private readonly opts: EvalHookOptions) {}

  private log(line: string): void {
    (this.opts.log ?? console.log)(line);
  }

  evaluate(t: Trainer): EvaluationResult {
    const { opts } = this;
    const visDir = join(opts.outputDir, 'visualizations');
    let drawn = 0;
    const run = () =>
      evaluateDetector(t.model, opts.loader, {
        onBatch: (batch, dets) => {
          for (let i = 0; i < batch.imageIds.length && drawn < (opts.numVisualize ?? 4); i++, drawn++) {
            mkdirSync(visDir, { recursive: true });
            const png = drawBoxes(
              batchImageRgb(batch, i, opts.pixelMean, opts.pixelStd),
              visualizationBoxes(batch, i, dets[i], opts.scoreThreshold ?? 0.3, opts.classNames),
              Math.max(1, Math.floor(384 / Math.max(...batch.imageSizes[i]))),
            );
            writeFileSync(join(visDir, `iter${String(t.iter).padStart(7, '0')}_img${batch.imageIds[i]}.png`), png);
          }
        },
      });
    this.log(`[eval] iteration ${t.iter}: evaluating ${opts.loader.dataset.length} images`);
    const result = run();
    for (const line of result.summary) this.log(line);
    this.log(`[eval] AP ${result.named.AP.toFixed(2)} AP50 ${result.named.AP50.toFixed(2)} AP75 ${result.named.AP75.toFixed(2)} (${result.seconds.toFixed(1)} s)`);
    opts.metrics.write({ type: 'eval', iter: t.iter, bbox: result.named });
    if (t.ema) {
      const emaResult = t.ema.withEmaWeights(() => evaluateDetector(t.model, opts.loader));
      this.log(`[eval] with EMA weights: AP ${emaResult.named.AP.toFixed(2)} AP50 ${emaResult.named.AP50.toFixed(2)} AP75 ${emaResult.named.AP75.toFixed(2)}`);
      opts.metrics.write({ type: 'eval', iter: t.iter, bbox_ema: emaResult.named });
    }
    writeTrainingPlots(opts.metrics, opts.outputDir);
    this.lastResult = result;
    return result;
  }

  afterStep(t: Trainer): void {
    if (this.opts.period > 0 && t.iter % this.opts.period === 0 && t.iter !== t.maxIter) this.evaluate(t);
  }

  /** After the last iteration, as detectron2's EvalHook; a negative period switches evaluation off entirely. */
  afterTrain(t: Trainer, error?: Error): void {
    if (!error && this.opts.period >= 0) this.evaluate(t);
  }
}
