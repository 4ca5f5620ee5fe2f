/**
 * Box losses of the set criteria (detrex `SetCriterion.loss_boxes`; Align-DETR
 * `ManyToOneCriterion.get_loss` with the prime-sample weight w, paper eq. 7):
 *   loss_bbox = sum_i w_i * sum_k |b_ik - g_ik| / num_boxes          (L1 on cxcywh)
 *   loss_giou = sum_i w_i * (1 - GIoU(xyxy(b_i), xyxy(g_i))) / num_boxes
 * with w = 1 when no weight is given.
 */
import * as tf from '@tensorflow/tfjs';
import { boxCxcywhToXyxy, pairedIouGiou } from '@detr/core';

/** src, tgt [M,4] cxcywh; weight [M] or null. */
export function l1BoxLoss(src: tf.Tensor2D, tgt: tf.Tensor2D, weight: tf.Tensor1D | null, numBoxes: number): tf.Scalar {
  return tf.tidy(() => {
    const perBox = tf.sum(tf.abs(tf.sub(src, tgt)), 1); // [M]
    return tf.div(tf.sum(weight ? tf.mul(weight, perBox) : perBox), numBoxes) as tf.Scalar;
  });
}

export function giouBoxLoss(src: tf.Tensor2D, tgt: tf.Tensor2D, weight: tf.Tensor1D | null, numBoxes: number): tf.Scalar {
  return tf.tidy(() => {
    const { giou } = pairedIouGiou(boxCxcywhToXyxy(src) as tf.Tensor2D, boxCxcywhToXyxy(tgt) as tf.Tensor2D);
    const perBox = tf.sub(1, giou); // [M]
    return tf.div(tf.sum(weight ? tf.mul(weight, perBox) : perBox), numBoxes) as tf.Scalar;
  });
}
