/**
 * One ordered pass of a detector over an evaluation loader that measures both the COCO box AP and the
 * misalignment metrics from the same forward: per batch, the eval-mode outputs `pred_logits [B,Q,C]` /
 * `pred_boxes [B,Q,4]` (normalised cxcywh, the final decoder layer) are pulled to the CPU once; the
 * final layer is matched one-to-one to the batch's targets by a HungarianMatcher (detrex matches the
 * final layer with `HungarianMatcher`; the costs should be the criterion's); the alignment accumulator
 * reads outputs, targets and matches; the detector's own post-processing turns the same outputs into
 * detections for COCOeval.
 */
import * as tf from '@tensorflow/tfjs';
import { evaluateBbox, type CocoDetection } from 'cocoapi-ts';
import { readPredictions, type ImageMatch, type PredictionData } from '@detr/matchers';
import { detectionsToCoco, disposingScope, STAT_KEYS, type EvaluationResult } from '../evaluation';
import { disposeBatch, type Batch, type Detections, type EvalLoader, type TrainableDetector } from '../types';
import { AlignmentAccumulator, type AlignmentOptions } from './alignment_accumulator';

/** What the analysis needs from a detector: an eval forward to the final layer's outputs, and predictions. */
export interface AnalyzableDetector extends TrainableDetector {
  forward(batch: Batch, opts?: { training?: boolean }): { pred_logits: tf.Tensor; pred_boxes: tf.Tensor };
  /** Post-processing of `forward`'s outputs (DINO, H-DETR); without it `predict` runs a second forward. */
  inference?(outputs: { pred_logits: tf.Tensor; pred_boxes: tf.Tensor }, imageSizes: [number, number][], origSizes?: [number, number][]): Detections[];
}

/** The one-to-one matcher of the final layer (HungarianMatcher's `matchData`). */
export interface FinalLayerMatcher {
  matchData(pred: PredictionData, targets: readonly { labels: Int32Array; boxes: Float32Array }[], k?: number): ImageMatch[];
}

export interface AnalyzeDetectorOptions extends AlignmentOptions {
  matcher: FinalLayerMatcher;
  /** Analyse (and evaluate) only the first `max_images` images of the loader's pass. */
  max_images?: number;
  /** Also run COCO evaluation on the same images. Default true. */
  evaluate?: boolean;
  print?: (line: string) => void;
}

export interface AnalyzeDetectorResult {
  alignment: AlignmentAccumulator;
  /** COCO bbox evaluation of the analysed images (absent with evaluate: false). */
  evaluation?: EvaluationResult;
  numImages: number;
  seconds: number;
}

export function isAnalyzableDetector(m: unknown): m is AnalyzableDetector {
  return typeof (m as AnalyzableDetector)?.forward === 'function' && typeof (m as AnalyzableDetector)?.predict === 'function';
}

export function analyzeDetector(model: AnalyzableDetector, loader: EvalLoader, opts: AnalyzeDetectorOptions): AnalyzeDetectorResult {
  const start = performance.now();
  const maxImages = opts.max_images ?? Infinity;
  if (!(maxImages >= 1)) throw new Error(`analyzeDetector: max_images must be >= 1, got ${opts.max_images}`);
  const evaluate = opts.evaluate ?? true;
  const alignment = new AlignmentAccumulator(opts);
  const results: CocoDetection[] = [];
  const imgIds: number[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (const batch of loader.epoch()) {
      try {
        const take = Math.min(batch.imageIds.length, maxImages - imgIds.length);
        disposingScope(() => {
          const outputs = model.forward(batch, { training: false });
          const pred = readPredictions(outputs, 'final-layer outputs');
          const matches = opts.matcher.matchData(pred, batch.targets);
          const { numQueries: q, numClasses: c } = pred;
          for (let b = 0; b < take; b++) {
            alignment.addImage(
              {
                logits: pred.logits.subarray(b * q * c, (b + 1) * q * c),
                boxes: pred.boxes.subarray(b * q * 4, (b + 1) * q * 4),
                numQueries: q,
                numClasses: c,
              },
              batch.targets[b],
              matches[b],
              `image id ${batch.imageIds[b]}`,
            );
          }
          if (evaluate) {
            const dets = model.inference ? model.inference(outputs, batch.imageSizes, batch.origSizes) : model.predict(batch);
            for (let b = 0; b < take; b++) results.push(...detectionsToCoco(dets[b], batch.imageIds[b], (l) => loader.dataset.labelToCategoryId(l)));
          }
        });
        imgIds.push(...batch.imageIds.slice(0, take));
      } finally {
        disposeBatch(batch);
      }
      if (imgIds.length >= maxImages) break;
    }
  } finally {
    model.train(wasTraining);
  }
  let evaluation: EvaluationResult | undefined;
  if (evaluate) {
    const e = evaluateBbox(loader.dataset.annFile, results, { imgIds, print: opts.print });
    const named = Object.fromEntries(STAT_KEYS.map((k, i) => [k, e.stats[i] * 100])) as EvaluationResult['named'];
    evaluation = { ...e, named, results, numImages: imgIds.length, seconds: (performance.now() - start) / 1000 };
  }
  return { alignment, evaluation, numImages: imgIds.length, seconds: (performance.now() - start) / 1000 };
}
