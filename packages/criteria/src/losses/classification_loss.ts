/**
 * The classification-loss contract of the set criteria. The criterion matches, then hands the loss
 * the positives: one flat entry (b*Q + q)*C + label per matched (query, GT) pair. Quality-aware losses
 * (IA-BCE, VFL, QFL) first turn the detached matched score s = sigmoid(logit) and IoU into a per-pair
 * quality t; the criterion ranks positives by it (prime sample weighting) and passes the rank weight.
 */
import * as tf from '@tensorflow/tfjs';

export interface Positives {
  /** Flat index into logits [B,Q,C] of each matched (b, query, GT label). */
  entries: Int32Array;
  /** Detached quality t per positive (from `quality`). */
  quality: Float32Array;
  /** Prime-sample weight w per positive (Align-DETR eq. 6); null = 1. */
  weight: Float32Array | null;
}

export interface ClassificationLossInput {
  /** [B, Q, C] logits, inside the gradient tape. */
  logits: tf.Tensor;
  positives: Positives;
  /** Normaliser (number of GT boxes, times DN groups on the DN branch). */
  numBoxes: number;
}

export interface ClassificationLoss {
  /**
   * Detached per-positive quality from the matched probability s and the IoU of the matched boxes
   * (float64 in, float32 out: the values the loss targets and the ranks use).
   */
  quality(score: Float64Array, iou: Float64Array): Float32Array;
  /** The scalar loss (summed, divided by numBoxes). */
  forward(input: ClassificationLossInput): tf.Scalar;
}

/** Dense [size] array with `values[i]` (or 1) at `entries[i]` and 0 elsewhere. */
export function scatterDense(size: number, entries: Int32Array, values?: ArrayLike<number>): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < entries.length; i++) out[entries[i]] = values ? values[i] : 1;
  return out;
}

/** t*w per positive (float32, as upstream's `t = t * rank_weight`). */
export function weightedTarget(p: Positives): Float32Array {
  if (!p.weight) return p.quality;
  const out = new Float32Array(p.quality.length);
  for (let i = 0; i < out.length; i++) out[i] = p.quality[i] * p.weight[i];
  return out;
}

export function checkNumBoxes(where: string, numBoxes: number): void {
  if (!(numBoxes > 0) || !Number.isFinite(numBoxes)) throw new Error(`${where}: numBoxes must be a positive number, got ${numBoxes}`);
}
