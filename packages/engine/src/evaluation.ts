/**
 * COCO evaluation of a detector through cocoapi-ts (pycocotools semantics): run the model in eval mode
 * over one ordered pass of the evaluation loader, convert detections to COCO results (xywh boxes in
 * original-image pixels, dataset category ids), and evaluate bbox AP.
 */
import * as tf from '@tensorflow/tfjs';
import { evaluateBbox, STAT_NAMES, type BboxEvaluation, type CocoDetection } from 'cocoapi-ts';
import { disposeBatch, type Batch, type Detections, type EvalLoader, type TrainableDetector } from './types';

export const STAT_KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;

export interface EvaluationResult extends BboxEvaluation {
  /** The 12 stats by name (AP, AP50, ...), in percent as detectron2 prints them. */
  named: Record<(typeof STAT_KEYS)[number], number>;
  results: CocoDetection[];
  numImages: number;
  seconds: number;
}

export function detectionsToCoco(
  dets: Detections,
  imageId: number,
  labelToCategoryId: (label: number) => number,
): CocoDetection[] {
  const out: CocoDetection[] = [];
  for (let i = 0; i < dets.scores.length; i++) {
    const [x1, y1, x2, y2] = dets.boxes.subarray(i * 4, i * 4 + 4);
    out.push({
      image_id: imageId,
      category_id: labelToCategoryId(dets.labels[i]),
      bbox: [x1, y1, x2 - x1, y2 - y1],
      score: dets.scores[i],
    });
  }
  return out;
}

export interface EvaluateOptions {
  /** Stop after this many batches (quick evaluations during training). */
  maxBatches?: number;
  print?: (line: string) => void;
  /** Called with each batch and its detections before the batch is disposed (visualisation). */
  onBatch?: (batch: Batch, detections: Detections[]) => void;
}

/** Run fn and dispose every tensor it created (fn returns plain data, so tf.tidy does not fit). */
export function disposingScope<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

export function evaluateDetector(model: TrainableDetector, loader: EvalLoader, opts: EvaluateOptions = {}): EvaluationResult {
  const start = performance.now();
  const wasTraining = model.training;
  model.eval();
  const results: CocoDetection[] = [];
  const imgIds: number[] = [];
  try {
    let n = 0;
    for (const batch of loader.epoch()) {
      try {
        const dets = disposingScope(() => model.predict(batch));
        batch.imageIds.forEach((id, i) => {
          imgIds.push(id);
          results.push(...detectionsToCoco(dets[i], id, (l) => loader.dataset.labelToCategoryId(l)));
        });
        opts.onBatch?.(batch, dets);
      } finally {
        disposeBatch(batch);
      }
      if (opts.maxBatches !== undefined && ++n >= opts.maxBatches) break;
    }
  } finally {
    model.train(wasTraining);
  }
  const evaluation = evaluateBbox(loader.dataset.annFile, results, { imgIds, print: opts.print });
  const named = Object.fromEntries(STAT_KEYS.map((k, i) => [k, evaluation.stats[i] * 100])) as EvaluationResult['named'];
  return { ...evaluation, named, results, numImages: imgIds.length, seconds: (performance.now() - start) / 1000 };
}

export { STAT_NAMES };
