/**
 * Varifocal loss (Zhang et al., "VarifocalNet: An IoU-aware Dense Object Detector", CVPR 2021, eq. 2;
 * mmdetection `varifocal_loss` with iou_weighted=True):
 *   VFL(p, q) = -q * (q*log(p) + (1-q)*log(1-p))   if q > 0   (q: IoU of the matched box with its GT)
 *             = -alpha * p^gamma * log(1-p)          otherwise (alpha 0.75, gamma 2; p^gamma not detached)
 *   loss = sum / num_boxes (the DETR normalisation used by every loss here).
 * q is the rank-weighted IoU w*IoU when the criterion applies prime-sample weights; matched pairs
 * with q = 0 count as negatives, as in the paper. (Align-DETR Table 4 "w/ VFL".)
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import { checkOptionKeys, numberOption } from '@detr/matchers';
import { checkNumBoxes, scatterDense, weightedTarget, type ClassificationLoss, type ClassificationLossInput } from './classification_loss';
import { weightedBceWithLogitsSum } from './weighted_bce';

export interface VarifocalLossOptions {
  alpha?: number;
  gamma?: number;
}

@register('loss', 'vfl')
export class VarifocalLoss implements ClassificationLoss {
  readonly alpha: number;
  readonly gamma: number;

  constructor(opts: VarifocalLossOptions = {}) {
    checkOptionKeys('VarifocalLoss', opts, ['alpha', 'gamma']);
    this.alpha = numberOption('VarifocalLoss', 'alpha', opts.alpha, 0.75, (v) => v >= 0, 'a number >= 0');
    this.gamma = numberOption('VarifocalLoss', 'gamma', opts.gamma, 2, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
  }

  /** q = IoU (the IoU-aware classification score target). */
  quality(_score: Float64Array, iou: Float64Array): Float32Array {
    return Float32Array.from(iou);
  }

  forward({ logits, positives, numBoxes }: ClassificationLossInput): tf.Scalar {
    checkNumBoxes('VarifocalLoss', numBoxes);
    const q = weightedTarget(positives);
    const posEntries = positives.entries.filter((_, i) => q[i] > 0);
    const posQ = q.filter((v) => v > 0);
    return tf.tidy(() => {
      const shape = logits.shape;
      const qDense = tf.tensor(scatterDense(logits.size, posEntries, posQ), shape, 'float32');
      const isPos = tf.tensor(scatterDense(logits.size, posEntries), shape, 'float32');
      const p = tf.sigmoid(logits);
      const bg = tf.mul(tf.mul(tf.sub(1, isPos), this.alpha), this.gamma === 2 ? tf.square(p) : tf.pow(p, this.gamma));
      const posWeight = tf.square(qDense); // q * q
      const negWeight = tf.add(tf.mul(qDense, tf.sub(1, qDense)), bg); // q * (1 - q) on positives
      return tf.div(weightedBceWithLogitsSum(logits, posWeight, negWeight), numBoxes) as tf.Scalar;
    });
  }
}
