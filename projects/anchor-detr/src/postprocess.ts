/**
 * Detections from Anchor DETR's final outputs (official `models/anchor_detr.py::PostProcess`: top-100 of
 * sigmoid(logits) over queries x classes, no NMS, query = idx // C, label = idx % C, cxcywh -> xyxy times
 * the original size) with detectron2's `detector_postprocess` semantics on top, as the engine expects:
 * scaled by the input size then rescaled to the original one (the same product), clipped to the image,
 * empty boxes dropped (upstream neither clips nor drops).
 * (Same function as the DAB-DETR project's; projects do not import each other.)
 */
import * as tf from '@tensorflow/tfjs';
import { boxCxcywhToXyxy } from '@detr/core';
import type { Detections } from '@detr/engine';

/**
 * predLogits [B,Q,C], predBoxes [B,Q,4] normalised cxcywh; imageSizes [h, w] of each input image (the
 * boxes are relative to it); origSizes [h, w] to report pixels in. k is capped at Q*C (torch.topk would
 * fail beyond it).
 */
export function topkDetections(
  predLogits: tf.Tensor,
  predBoxes: tf.Tensor,
  k: number,
  imageSizes: readonly (readonly [number, number])[],
  origSizes: readonly (readonly [number, number])[],
): Detections[] {
  const [b, q, c] = predLogits.shape as [number, number, number];
  if (predLogits.rank !== 3 || predBoxes.rank !== 3 || predBoxes.shape[0] !== b || predBoxes.shape[1] !== q || predBoxes.shape[2] !== 4) {
    throw new Error(`topkDetections: pred_logits [${predLogits.shape}] and pred_boxes [${predBoxes.shape}] must be [B,Q,C] and [B,Q,4]`);
  }
  if (imageSizes.length !== b || origSizes.length !== b) {
    throw new Error(`topkDetections: ${imageSizes.length} image sizes and ${origSizes.length} original sizes for a batch of ${b}`);
  }
  if (!Number.isInteger(k) || k <= 0) throw new Error(`topkDetections: select_box_nums_for_evaluation must be a positive integer, got ${k}`);
  const kk = Math.min(k, q * c);
  const [values, indices, xyxy] = tf.tidy(() => {
    const top = tf.topk(tf.sigmoid(predLogits).reshape([b, q * c]), kk, true); // [B,k]
    return [top.values, top.indices, boxCxcywhToXyxy(predBoxes)];
  });
  const scores = values.dataSync() as Float32Array;
  const idx = indices.dataSync() as Int32Array;
  const boxes = xyxy.dataSync() as Float32Array;
  tf.dispose([values, indices, xyxy]);
  const f = Math.fround;
  return imageSizes.map(([h, w], bi) => {
    const [oh, ow] = origSizes[bi];
    const scaleX = f(ow / w);
    const scaleY = f(oh / h);
    const keep: number[] = [];
    const out: number[] = [];
    for (let j = 0; j < kk; j++) {
      const o = (bi * q + Math.floor(idx[bi * kk + j] / c)) * 4;
      // Boxes.scale by the input size, detector_postprocess's rescale to the original size, Boxes.clip (float32 as torch).
      const x1 = Math.min(Math.max(f(f(boxes[o] * w) * scaleX), 0), ow);
      const y1 = Math.min(Math.max(f(f(boxes[o + 1] * h) * scaleY), 0), oh);
      const x2 = Math.min(Math.max(f(f(boxes[o + 2] * w) * scaleX), 0), ow);
      const y2 = Math.min(Math.max(f(f(boxes[o + 3] * h) * scaleY), 0), oh);
      if (!(x2 - x1 > 0 && y2 - y1 > 0)) continue; // Boxes.nonempty
      keep.push(j);
      out.push(x1, y1, x2, y2);
    }
    return {
      scores: Float32Array.from(keep, (j) => scores[bi * kk + j]),
      labels: Int32Array.from(keep, (j) => idx[bi * kk + j] % c),
      boxes: Float32Array.from(out),
    };
  });
}
