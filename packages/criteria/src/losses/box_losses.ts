/**
 * Box losses of the set criteria (detrex `SetCriterion.loss_boxes`; Align-DETR
 * `ManyToOneCriterion.get_loss` with the prime-sample weight w, paper eq. 7):
 *   loss_bbox = sum_i w_i * sum_k |b_ik - g_ik| / num_boxes                    (L1 on cxcywh)
 *   loss_giou = sum_i w_i * (1 - GIoU(xyxy(b_i), xyxy(g_i))) / num_boxes
 *   GIoU = IoU - (E - union) / (E + 1e-6),  IoU = inter / (union + 1e-6)      (detrex box_ops.py)
 * Predicted boxes are a tensor [N,4]; targets and weights are constants, so their corners and areas
 * are computed once on the CPU and the tensor side works on [N,2] (x, y) pairs: about half the ops of
 * the generic pairwise box ops (on wasm each small op costs ~0.1-0.3 ms, and this runs for every
 * output of every step). Rows with weight 0 contribute nothing (the criterion passes all B*Q rows with
 * a weight mask: the gradient of tf.gather needs UnsortedSegmentSum, which wasm lacks).
 */
import * as tf from '@tensorflow/tfjs';

export interface BoxLosses {
  loss_bbox: tf.Scalar;
  loss_giou: tf.Scalar;
}

/**
 * @param src predicted boxes [N,4] cxcywh (in the tape)
 * @param targets GT boxes [N*4] cxcywh, row-aligned with src
 * @param weight per-row weight [N], or null for 1
 */
export function boxLosses(src: tf.Tensor2D, targets: Float32Array, weight: Float32Array | null, numBoxes: number): BoxLosses {
  const n = src.shape[0];
  if (targets.length !== 4 * n) throw new Error(`boxLosses: ${targets.length / 4} target boxes for ${n} predicted boxes`);
  if (weight && weight.length !== n) throw new Error(`boxLosses: ${weight.length} weights for ${n} boxes`);
  const tLo = new Float32Array(2 * n);
  const tHi = new Float32Array(2 * n);
  const tArea = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < 2; d++) {
      const c = targets[4 * i + d];
      const half = 0.5 * targets[4 * i + 2 + d];
      tLo[2 * i + d] = c - half;
      tHi[2 * i + d] = c + half;
    }
    tArea[i] = (tHi[2 * i] - tLo[2 * i]) * (tHi[2 * i + 1] - tLo[2 * i + 1]);
  }
  return tf.tidy(() => {
    const w = weight ? tf.tensor1d(weight) : null;
    const reduce = (perBox: tf.Tensor) => tf.div(tf.sum(w ? tf.mul(w, perBox) : perBox), numBoxes) as tf.Scalar;
    const loss_bbox = reduce(tf.sum(tf.abs(tf.sub(src, tf.tensor2d(targets, [n, 4]))), 1));

    const xy = tf.slice(src, [0, 0], [n, 2]); // [N,2] centres
    const half = tf.mul(tf.slice(src, [0, 2], [n, 2]), 0.5); // [N,2] half sizes
    const lo = tf.sub(xy, half); // [N,2] (x1, y1)
    const hi = tf.add(xy, half); // [N,2] (x2, y2)
    const gLo = tf.tensor2d(tLo, [n, 2]);
    const gHi = tf.tensor2d(tHi, [n, 2]);
    const product = (wh: tf.Tensor) => tf.mul(tf.slice(wh, [0, 0], [n, 1]), tf.slice(wh, [0, 1], [n, 1])).reshape([n]); // [N]
    const area = product(tf.sub(hi, lo));
    const inter = product(tf.relu(tf.sub(tf.minimum(hi, gHi), tf.maximum(lo, gLo))));
    const union = tf.sub(tf.add(area, tf.tensor1d(tArea)), inter);
    const iou = tf.div(inter, tf.add(union, 1e-6));
    const enclosing = product(tf.relu(tf.sub(tf.maximum(hi, gHi), tf.minimum(lo, gLo))));
    const giou = tf.sub(iou, tf.div(tf.sub(enclosing, union), tf.add(enclosing, 1e-6)));
    return { loss_bbox, loss_giou: reduce(tf.sub(1, giou)) };
  });
}
