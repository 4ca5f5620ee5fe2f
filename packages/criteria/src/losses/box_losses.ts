/**
 * Box losses of the set criteria (detrex `SetCriterion.loss_boxes`; Align-DETR
 * `ManyToOneCriterion.get_loss` with the prime-sample weight w, paper eq. 7):
 *   loss_bbox = sum_i w_i * sum_k |b_ik - g_ik| / num_boxes          (L1 on cxcywh)
 *   loss_giou = sum_i w_i * (1 - GIoU(xyxy(b_i), xyxy(g_i))) / num_boxes
 * with w = 1 when no weight is given.
 *
 * Both take the boxes and targets row-aligned ([N,4] each) plus a per-row weight; rows with weight 0
 * contribute nothing. The criterion passes ALL B*Q predicted boxes with the matched GT box in each
 * matched row (a dummy box elsewhere), so no gather is needed: tfjs's gather gradient
 * (UnsortedSegmentSum) has no kernel on the wasm backend, while these elementwise ops do everywhere.
 */
import * as tf from '@tensorflow/tfjs';
import { boxCxcywhToXyxy, pairedIouGiou } from '@detr/core';

/** src, tgt [N,4] cxcywh; weight [N] or null (= 1). */
export function l1BoxLoss(src: tf.Tensor2D, tgt: tf.Tensor2D, weight: tf.Tensor1D | null, numBoxes: number): tf.Scalar {
  return tf.tidy(() => {
    const perBox = tf.sum(tf.abs(tf.sub(src, tgt)), 1); // [N]
    return tf.div(tf.sum(weight ? tf.mul(weight, perBox) : perBox), numBoxes) as tf.Scalar;
  });
}

export function giouBoxLoss(src: tf.Tensor2D, tgt: tf.Tensor2D, weight: tf.Tensor1D | null, numBoxes: number): tf.Scalar {
  return tf.tidy(() => {
    const { giou } = pairedIouGiou(boxCxcywhToXyxy(src) as tf.Tensor2D, boxCxcywhToXyxy(tgt) as tf.Tensor2D);
    const perBox = tf.sub(1, giou); // [N]
    return tf.div(tf.sum(weight ? tf.mul(weight, perBox) : perBox), numBoxes) as tf.Scalar;
  });
}
