/**
 * Sigmoid focal loss as detrex computes it (`detrex/modeling/criterion/criterion.py`,
 * `sigmoid_focal_loss`, RetinaNet's loss):
 *   p_t = p*y + (1-p)*(1-y),  alpha_t = alpha*y + (1-alpha)*(1-y)
 *   elementwise = alpha_t * BCEWithLogits(x, y) * (1 - p_t)^gamma
 *   sigmoidFocalLoss = elementwise.mean(dim 1).sum() / num_boxes
 * and SetCriterion's `loss_class` = that times Q (the quirk kept for parity: = elementwise.sum() /
 * num_boxes up to float rounding). The target is the one-hot of the matched GT labels; the prime
 * sample weight (if any) does not change it (only the box losses are rank-weighted then).
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import { checkOptionKeys, numberOption } from '@detr/matchers';
import { negLogSigmoid } from './weighted_bce';
import { checkNumBoxes, scatterDense, type ClassificationLoss, type ClassificationLossInput } from './classification_loss';

/** Elementwise focal loss of logits x against binary targets y (same shape). */
export function sigmoidFocalLossElementwise(logits: tf.Tensor, targets: tf.Tensor, alpha = 0.25, gamma = 2): tf.Tensor {
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    const oneMinusY = tf.sub(1, targets);
    // BCEWithLogits(x, y) = -(y*log s + (1-y)*log(1-s)) = softplus(-x) + (1-y)*x   (weighted_bce.ts)
    const ce = tf.add(negLogSigmoid(logits), tf.mul(oneMinusY, logits));
    const pT = tf.add(tf.mul(p, targets), tf.mul(tf.sub(1, p), oneMinusY));
    const modulating = gamma === 2 ? tf.square(tf.sub(1, pT)) : tf.pow(tf.sub(1, pT), gamma);
    let loss = tf.mul(ce, modulating);
    if (alpha >= 0) loss = tf.mul(tf.add(tf.mul(alpha, targets), tf.mul(1 - alpha, oneMinusY)), loss);
    return loss;
  });
}

/** detrex `sigmoid_focal_loss(inputs, targets, num_boxes, alpha, gamma)`: mean over dim 1, sum, / num_boxes. */
export function sigmoidFocalLoss(logits: tf.Tensor, targets: tf.Tensor, numBoxes: number, alpha = 0.25, gamma = 2): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mean(sigmoidFocalLossElementwise(logits, targets, alpha, gamma), 1)), numBoxes) as tf.Scalar);
}

export interface SigmoidFocalLossOptions {
  alpha?: number;
  gamma?: number;
}

@register('loss', 'sigmoid_focal')
export class SigmoidFocalLoss implements ClassificationLoss {
  readonly alpha: number;
  readonly gamma: number;

  constructor(opts: SigmoidFocalLossOptions = {}) {
    checkOptionKeys('SigmoidFocalLoss', opts, ['alpha', 'gamma']);
    this.alpha = numberOption('SigmoidFocalLoss', 'alpha', opts.alpha, 0.25, (v) => v <= 1, 'a number <= 1 (negative disables the balance)');
    this.gamma = numberOption('SigmoidFocalLoss', 'gamma', opts.gamma, 2, (v) => v >= 0, 'a number >= 0');
  }

  /** Focal loss has no quality target; positives are ranked by IoU (only the box losses use the rank). */
  quality(_score: Float64Array, iou: Float64Array): Float32Array {
    return Float32Array.from(iou);
  }

  forward({ logits, positives, numBoxes }: ClassificationLossInput): tf.Scalar {
    checkNumBoxes('SigmoidFocalLoss', numBoxes);
    if (logits.rank !== 3) throw new Error(`SigmoidFocalLoss: logits must be [B, Q, C], got [${logits.shape.join(', ')}]`);
    return tf.tidy(() => {
      const onehot = tf.tensor(scatterDense(logits.size, positives.entries), logits.shape, 'float32');
      return tf.mul(sigmoidFocalLoss(logits, onehot, numBoxes, this.alpha, this.gamma), logits.shape[1] as number) as tf.Scalar;
    });
  }
}
