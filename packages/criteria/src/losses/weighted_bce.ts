/**
 * The binary cross-entropy with per-entry weights that every quality-aware loss here reduces to
 * (Align-DETR `binary_cross_entropy_loss_with_logits` / `IA_BCE_loss`, paper appendix C):
 *   sum( -w_pos * log(s) - w_neg * log(1 - s) ),   s = sigmoid(x)
 * With sp = softplus(-x) = -log(s) and log(1 - s) = log(s) - x this is
 *   sum( (w_pos + w_neg) * sp + w_neg * x )
 * one softplus per call (the costliest elementwise op on wasm), finite for any |x| where the upstream
 * `p.log()` gives 0*log(0) = NaN beyond |x| ~ 88. softplus is a plain kernel that saves its input for
 * the gradient (tf.logSigmoid is a customGrad op whose gradient reads its input tensor after a tidy
 * may have disposed it).
 */
import * as tf from '@tensorflow/tfjs';

/** -log(sigmoid(x)) = softplus(-x). */
export function negLogSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.softplus(tf.neg(x)));
}

/** Sum over all entries; `posWeight`/`negWeight` are tensors broadcastable to `logits` or numbers. */
export function weightedBceWithLogitsSum(logits: tf.Tensor, posWeight: tf.Tensor | number, negWeight: tf.Tensor | number): tf.Scalar {
  return tf.tidy(() => {
    const total = posWeight === 0 ? negWeight : negWeight === 0 ? posWeight : tf.add(posWeight, negWeight);
    if (total === 0) return tf.mul(tf.sum(logits), 0) as tf.Scalar;
    let perEntry = tf.mul(total, negLogSigmoid(logits));
    if (negWeight !== 0) perEntry = tf.add(perEntry, tf.mul(negWeight, logits));
    return tf.sum(perEntry) as tf.Scalar;
  });
}
