/**
 * log(sigmoid(x)) and log(1 - sigmoid(x)) for losses computed inside tf.tidy within a gradient tape.
 * tf.logSigmoid is a customGrad op whose gradient closes over its input tensor; when that input is an
 * intermediate (e.g. neg(logits)) that a tidy disposes, the backward pass reads a disposed tensor.
 * softplus is a plain kernel that saves its input for the gradient, so
 *   log s     = -softplus(-x),   log(1-s) = -softplus(x)
 * (the same numerically stable form tf.logSigmoid uses).
 */
import * as tf from '@tensorflow/tfjs';

/** log(sigmoid(x)). */
export function logProb(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x))));
}

/** log(1 - sigmoid(x)) = log(sigmoid(-x)). */
export function logOneMinusProb(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.softplus(x)));
}
