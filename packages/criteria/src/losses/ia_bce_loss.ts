/**
 * IA-BCE, Align-DETR's IoU-aware BCE (paper eq. 4-6; `aligndetr/losses/losses.py::IA_BCE_loss`):
 *   t        = clamp(s^alpha * IoU^(1-alpha), min 0.01), detached      (s = p[b, q, label])
 *   target   = w * t            (w: prime-sample weight of the pair's rank; 1 on the DN branch)
 *   matched entries:  -w_pos * log(p) - w_neg * log(1-p)   with w_pos = target, w_neg = 1 - target
 *   all other entries: -w_bg * log(1-p)                    with w_bg = p^gamma (NOT detached)
 *   loss = sum over B*Q*C / num_boxes
 * The three weights are expressions (weight_expression.ts) so the paper's Table B variants are config
 * overrides: (w_pos, w_neg) in {(1,0), (t,0), ((t-s)^2,(t-s)^2), ((t-s)^2,(1-t)s^2), (t,1-t)}; in them
 * `t` is the rank-weighted target w*t and `s` the (not detached) probability.
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import { checkOptionKeys, numberOption } from '@detr/matchers';
import { WeightExpression } from '../weight_expression';
import { checkNumBoxes, scatterDense, weightedTarget, type ClassificationLoss, type ClassificationLossInput } from './classification_loss';
import { weightedBceWithLogitsSum } from './weighted_bce';

export interface IABCELossOptions {
  /** Exponent of s in t = s^alpha * IoU^(1-alpha) (not a focal alpha). */
  alpha?: number;
  gamma?: number;
  /** Weight of -log(p) at matched entries. */
  w_pos?: string;
  /** Weight of -log(1-p) at matched entries. */
  w_neg?: string;
  /** Weight of -log(1-p) at every other (query, class) entry. */
  w_bg?: string;
  /** Lower clamp of t (upstream 0.01). */
  min_quality?: number;
}

@register('loss', 'ia_bce')
export class IABCELoss implements ClassificationLoss {
  readonly alpha: number;
  readonly gamma: number;
  readonly minQuality: number;
  readonly wPos: WeightExpression;
  readonly wNeg: WeightExpression;
  readonly wBg: WeightExpression;

  constructor(opts: IABCELossOptions = {}) {
    checkOptionKeys('IABCELoss', opts, ['alpha', 'gamma', 'w_pos', 'w_neg', 'w_bg', 'min_quality']);
    this.alpha = numberOption('IABCELoss', 'alpha', opts.alpha, 0.25, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    this.gamma = numberOption('IABCELoss', 'gamma', opts.gamma, 2, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    this.minQuality = numberOption('IABCELoss', 'min_quality', opts.min_quality, 0.01, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    this.wPos = new WeightExpression(opts.w_pos ?? 't', 'IABCELoss w_pos');
    this.wNeg = new WeightExpression(opts.w_neg ?? '1-t', 'IABCELoss w_neg');
    this.wBg = new WeightExpression(opts.w_bg ?? 's^gamma', 'IABCELoss w_bg');
  }

  /** t = max(s^alpha * IoU^(1-alpha), min_quality). */
  quality(score: Float64Array, iou: Float64Array): Float32Array {
    const t = new Float32Array(score.length);
    for (let i = 0; i < t.length; i++) t[i] = Math.max(Math.pow(score[i], this.alpha) * Math.pow(iou[i], 1 - this.alpha), this.minQuality);
    return t;
  }

  forward({ logits, positives, numBoxes }: ClassificationLossInput): tf.Scalar {
    checkNumBoxes('IABCELoss', numBoxes);
    return tf.tidy(() => {
      const shape = logits.shape;
      const target = tf.tensor(scatterDense(logits.size, positives.entries, weightedTarget(positives)), shape, 'float32');
      const matched = tf.tensor(scatterDense(logits.size, positives.entries), shape, 'float32');
      const needsScore = this.wPos.usesScore || this.wNeg.usesScore || this.wBg.usesScore;
      // sigmoid only when an expression reads s (usesScore guarantees `s` is not read otherwise).
      const env = { t: target, s: needsScore ? tf.sigmoid(logits) : target, gamma: this.gamma };
      const onMatched = (e: WeightExpression) => {
        const v = e.evaluateTensor(env);
        return v === 0 ? 0 : tf.mul(matched, v);
      };
      const posWeight = onMatched(this.wPos);
      const bgValue = this.wBg.evaluateTensor(env);
      const bgWeight = bgValue === 0 ? 0 : tf.mul(tf.sub(1, matched), bgValue);
      const negOnMatched = onMatched(this.wNeg);
      const negWeight = negOnMatched === 0 ? bgWeight : bgWeight === 0 ? negOnMatched : tf.add(negOnMatched, bgWeight);
      return tf.div(weightedBceWithLogitsSum(logits, posWeight, negWeight), numBoxes) as tf.Scalar;
    });
  }
}
