/**
 * The binary cross-entropy with per-entry weights that every quality-aware loss here reduces to
 * (Align-DETR `binary_cross_entropy_loss_with_logits` / `IA_BCE_loss`, paper appendix C):
 *   sum( -w_pos * log(s) - w_neg * log(1 - s) ),   s = sigmoid(x)
 * computed with log-sigmoid (log s = -softplus(-x), log(1-s) = -softplus(x); see log_sigmoid.ts), which is equal in the
 * normal range and stays finite where the upstream `p.log()` gives 0*log(0) = NaN (|x| > ~88).
 */
import * as tf from '@tensorflow/tfjs';
import { logOneMinusProb, logProb } from './log_sigmoid';

/** Sum over all entries; `posWeight`/`negWeight` are tensors broadcastable to `logits` or numbers. */
export function weightedBceWithLogitsSum(logits: tf.Tensor, posWeight: tf.Tensor | number, negWeight: tf.Tensor | number): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Tensor[] = [];
    if (posWeight !== 0) terms.push(tf.mul(posWeight, logProb(logits)));
    if (negWeight !== 0) terms.push(tf.mul(negWeight, logOneMinusProb(logits)));
    if (terms.length === 0) return tf.mul(tf.sum(logits), 0) as tf.Scalar;
    return tf.neg(tf.sum(terms.length === 1 ? terms[0] : tf.add(terms[0], terms[1]))) as tf.Scalar;
  });
}
