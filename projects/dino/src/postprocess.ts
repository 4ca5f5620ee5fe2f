/**
 * Detections from DINO's final outputs (detrex `projects/dino/modeling/dino.py::DINO.inference` then
 * detectron2 `modeling/postprocessing.py::detector_postprocess`): top-k of sigmoid(logits) over all
 * queries x classes (no NMS), query = idx // C, label = idx % C, cxcywh -> xyxy scaled to the input
 * image size, then rescaled to the original size, clipped to it, and empty boxes dropped.
 */
import * as tf from '@tensorflow/tfjs';
import { boxCxcywhToXyxy } from '@detr/core';

export interface Detections {
  /** [n] sigmoid scores, descending. */
  scores: Float32Array;
  /** [n] class indices 0..C-1. */
  labels: Int32Array;
  /** n*4 xyxy in pixels of the original image. */
  boxes: Float32Array;
  /** [n] flat index q*C + c of each detection in the [Q, C] score table (before empty boxes are dropped). */
  topkIndex: Int32Array;
}

/**
 * predLogits [B,Q,C], predBoxes [B,Q,4] (normalised cxcywh); imageSizes [h, w] the unpadded input
 * sizes the boxes are relative to; origSizes [h, w] to rescale to (defaults to imageSizes).
 */
export function dinoInference(predLogits: tf.Tensor, predBoxes: tf.Tensor, k: number, imageSizes: readonly (readonly [number, number])[], origSizes?: readonly (readonly [number, number])[]): Detections[] {
  const [b, q, c] = predLogits.shape as [number, number, number];
  if (imageSizes.length !== b) throw new Error(`dinoInference: ${imageSizes.length} image sizes for a batch of ${b}`);
  if (origSizes && origSizes.length !== b) throw new Error(`dinoInference: ${origSizes.length} original sizes for a batch of ${b}`);
  if (!(Number.isInteger(k) && k > 0 && k <= q * c)) throw new Error(`dinoInference: select_box_nums_for_evaluation ${k} must be in 1..${q * c} (queries x classes)`);
  const [values, indices, xyxy] = tf.tidy(() => {
    const top = tf.topk(tf.sigmoid(predLogits).reshape([b, q * c]), k, true);
    return [top.values, top.indices, boxCxcywhToXyxy(predBoxes)];
  });
  const scores = values.dataSync() as Float32Array;
  const idx = indices.dataSync() as Int32Array;
  const boxes = xyxy.dataSync() as Float32Array;
  tf.dispose([values, indices, xyxy]);
  const f = Math.fround;
  return imageSizes.map(([h, w], bi) => {
    const [oh, ow] = origSizes ? origSizes[bi] : [h, w];
    const scaleX = ow / w;
    const scaleY = oh / h;
    const keep: number[] = [];
    const out: number[] = [];
    for (let j = 0; j < k; j++) {
      const flat = idx[bi * k + j];
      const query = Math.floor(flat / c);
      const o = (bi * q + query) * 4;
      // Boxes.scale (x by w, y by h), detector_postprocess's rescale, then Boxes.clip to (oh, ow); float32 as torch.
      const x1 = Math.min(Math.max(f(f(boxes[o] * w) * f(scaleX)), 0), ow);
      const y1 = Math.min(Math.max(f(f(boxes[o + 1] * h) * f(scaleY)), 0), oh);
      const x2 = Math.min(Math.max(f(f(boxes[o + 2] * w) * f(scaleX)), 0), ow);
      const y2 = Math.min(Math.max(f(f(boxes[o + 3] * h) * f(scaleY)), 0), oh);
      if (!(x2 - x1 > 0 && y2 - y1 > 0)) continue; // Boxes.nonempty
      keep.push(j);
      out.push(x1, y1, x2, y2);
    }
    return {
      scores: Float32Array.from(keep, (j) => scores[bi * k + j]),
      labels: Int32Array.from(keep, (j) => idx[bi * k + j] % c),
      boxes: Float32Array.from(out),
      topkIndex: Int32Array.from(keep, (j) => idx[bi * k + j]),
    };
  });
}
