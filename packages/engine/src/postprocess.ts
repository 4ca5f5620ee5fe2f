/**
 * Detections from a DETR's final outputs, shared by every detector (detrex `DINO.inference`,
 * `DABDETR.inference`, `HDeformableDETR.inference`, then detectron2
 * `modeling/postprocessing.py::detector_postprocess`): top-k of sigmoid(logits) over all queries x
 * classes (no NMS), query = idx // C, label = idx % C; boxes cxcywh -> xyxy scaled by the input image
 * size (before padding), rescaled to the original size, clipped to it, and empty boxes dropped. The box
 * arithmetic is done in float32 as torch does, so results match PyTorch's bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import { boxCxcywhToXyxy } from '@detr/core';
import type { Detections } from './types';

export interface TopkDetections extends Detections {
  /** [n] flat index q*C + c of each detection in the [Q, C] score table. */
  topkIndex: Int32Array;
  /** [n] the query each detection comes from (0..Q-1). */
  queryIndex: Int32Array;
}

/**
 * predLogits [B,Q,C], predBoxes [B,Q,4] normalised cxcywh; k = select_box_nums_for_evaluation (at most
 * Q*C, as torch.topk requires); imageSizes [h, w] of each unpadded input image; origSizes [h, w] to report
 * pixels in (default imageSizes).
 */
export function topkDetections(
  predLogits: tf.Tensor,
  predBoxes: tf.Tensor,
  k: number,
  imageSizes: readonly (readonly [number, number])[],
  origSizes: readonly (readonly [number, number])[] = imageSizes,
): TopkDetections[] {
  if (predLogits.rank !== 3 || predBoxes.rank !== 3 || predBoxes.shape[2] !== 4 || predBoxes.shape[0] !== predLogits.shape[0] || predBoxes.shape[1] !== predLogits.shape[1]) {
    throw new Error(`topkDetections: pred_logits [${predLogits.shape}] and pred_boxes [${predBoxes.shape}] must be [B,Q,C] and [B,Q,4]`);
  }
  const [b, q, c] = predLogits.shape as [number, number, number];
  if (imageSizes.length !== b) throw new Error(`topkDetections: ${imageSizes.length} image sizes for a batch of ${b}`);
  if (origSizes.length !== b) throw new Error(`topkDetections: ${origSizes.length} original sizes for a batch of ${b}`);
  for (const [name, sizes] of [['image size', imageSizes], ['original size', origSizes]] as const) {
    sizes.forEach(([h, w], i) => {
      if (!(h > 0 && w > 0)) throw new Error(`topkDetections: ${name} of image ${i} must be a positive [h, w], got [${h}, ${w}]`);
    });
  }
  if (!(Number.isInteger(k) && k > 0 && k <= q * c)) {
    throw new Error(`topkDetections: select_box_nums_for_evaluation ${k} must be in 1..${q * c} (queries x classes)`);
  }
  const [values, indices, xyxy] = tf.tidy(() => {
    const top = tf.topk(tf.sigmoid(predLogits).reshape([b, q * c]), k, true); // [B,k]
    return [top.values, top.indices, boxCxcywhToXyxy(predBoxes)]; // xyxy [B,Q,4]
  });
  const scores = values.dataSync() as Float32Array;
  const flat = indices.dataSync() as Int32Array;
  const boxes = xyxy.dataSync() as Float32Array;
  tf.dispose([values, indices, xyxy]);
  const f = Math.fround; // torch does this arithmetic in float32
  return imageSizes.map(([h, w], bi) => {
    const [oh, ow] = origSizes[bi];
    const scaleX = f(ow / w);
    const scaleY = f(oh / h);
    const kept: number[] = [];
    const out: number[] = [];
    for (let j = 0; j < k; j++) {
      const o = (bi * q + Math.floor(flat[bi * k + j] / c)) * 4;
      // Boxes.scale(w, h) in inference, Boxes.scale(scale_x, scale_y) and Boxes.clip((oh, ow)) in detector_postprocess.
      const x1 = Math.min(Math.max(f(f(boxes[o] * w) * scaleX), 0), ow);
      const y1 = Math.min(Math.max(f(f(boxes[o + 1] * h) * scaleY), 0), oh);
      const x2 = Math.min(Math.max(f(f(boxes[o + 2] * w) * scaleX), 0), ow);
      const y2 = Math.min(Math.max(f(f(boxes[o + 3] * h) * scaleY), 0), oh);
      if (!(x2 - x1 > 0 && y2 - y1 > 0)) continue; // Boxes.nonempty(threshold 0)
      kept.push(j);
      out.push(x1, y1, x2, y2);
    }
    return {
      scores: Float32Array.from(kept, (j) => scores[bi * k + j]),
      labels: Int32Array.from(kept, (j) => flat[bi * k + j] % c),
      boxes: Float32Array.from(out),
      topkIndex: Int32Array.from(kept, (j) => flat[bi * k + j]),
      queryIndex: Int32Array.from(kept, (j) => Math.floor(flat[bi * k + j] / c)),
    };
  });
}

/** Every tensor reachable from a detector's outputs dict (arrays and nested objects), disposed once each. */
export function disposeTensorTree(tree: unknown): void {
  const seen = new Set<tf.Tensor>();
  const visit = (v: unknown): void => {
    if (v instanceof tf.Tensor) seen.add(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(tree);
  tf.dispose([...seen]);
}

/**
 * A detector's `predict` from its eval outputs: topkDetections of the final layer with k =
 * select_box_nums_for_evaluation capped at queries x classes (small models have fewer), then every
 * output tensor (aux layers included) disposed.
 */
export function detectionsFromOutputs(
  outputs: { pred_logits: tf.Tensor; pred_boxes: tf.Tensor },
  selectBoxNums: number,
  batch: { imageSizes: readonly (readonly [number, number])[]; origSizes?: readonly (readonly [number, number])[] },
): TopkDetections[] {
  try {
    const [, q, c] = outputs.pred_logits.shape as [number, number, number];
    return topkDetections(outputs.pred_logits, outputs.pred_boxes, Math.min(selectBoxNums, q * c), batch.imageSizes, batch.origSizes);
  } finally {
    disposeTensorTree(outputs);
  }
}
