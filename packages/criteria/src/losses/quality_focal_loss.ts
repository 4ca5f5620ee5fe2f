/**
 * Quality focal loss (Li et al., "Generalized Focal Loss", NeurIPS 2020, eq. 5; mmdetection
 * `quality_focal_loss`):
 *   QFL(s) = -|y - s|^beta * ((1-y)*log(1-s) + y*log(s))
 * with y = IoU of the matched box (times the prime-sample weight, if any) at matched entries and
 * y = 0 elsewhere (there the weight is s^beta); |y - s|^beta is not detached.
 * loss = sum / num_boxes. Align-DETR Table 4 runs it with beta ("gamma" there) 2 and 1.
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import { checkOptionKeys, numberOption } from '@detr/matchers';
import { checkNumBoxes, scatterDense, weightedTarget, type ClassificationLoss, type ClassificationLossInput } from './classification_loss';
import { weightedBceWithLogitsSum } from './weighted_bce';

export interface QualityFocalLossOptions {
  beta?: number;
}

@register('loss', 'qfl')
export class QualityFocalLoss implements ClassificationLoss {
  readonly beta: number;

  constructor(opts: QualityFocalLossOptions = {}) {
    checkOptionKeys('QualityFocalLoss', opts, ['beta']);
    this.beta = numberOption('QualityFocalLoss', 'beta', opts.beta, 2, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
  }

  /** y = IoU. */
  quality(_score: Float64Array, iou: Float64Array): Float32Array {
    return Float32Array.from(iou);
  }

  forward({ logits, positives, numBoxes }: ClassificationLossInput): tf.Scalar {
    checkNumBoxes('QualityFocalLoss', numBoxes);
    return tf.tidy(() => {
      // y is 0 off the matched entries, so one dense y covers both branches of the formula.
      const y = tf.tensor(scatterDense(logits.size, positives.entries, weightedTarget(positives)), logits.shape, 'float32');
      const s = tf.sigmoid(logits);
      const gap = tf.abs(tf.sub(y, s));
      const scale = this.beta === 1 ? gap : this.beta === 2 ? tf.square(gap) : tf.pow(gap, this.beta);
      return tf.div(weightedBceWithLogitsSum(logits, tf.mul(scale, y), tf.mul(scale, tf.sub(1, y))), numBoxes) as tf.Scalar;
    });
  }
}
