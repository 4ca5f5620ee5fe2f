/**
 * H-DETR's hybrid matching loss (detrex `projects/h_deformable_detr/modeling/h_deformable_detr.py`,
 * `train_hybrid`, with `deformable_criterion.py::DeformableCriterion`):
 *  - one-to-one branch: final + aux outputs + encoder proposals. DeformableCriterion always supervises
 *    the proposals class-agnostically, hence `two_stage_binary_cls` defaults to true here;
 *  - one-to-many branch: `pred_logits_one2many` / `pred_boxes_one2many` / `aux_outputs_one2many`
 *    against the targets repeated k_one2many times, ordinary Hungarian matching, num_boxes = k * GT,
 *    no encoder loss; each loss times lambda_one2many, keys `<key>_one2many` (`loss_class_0_one2many`).
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import { countTargets, numberOption, repeatTargets, type DetectionTarget } from '@detr/matchers';
import type { DetectorOutputs } from './detector_outputs';
import type { ComputeOptions, CriterionResult } from './set_criterion';
import { TWO_STAGE_KEYS, TwoStageCriterion, type TwoStageCriterionOptions } from './two_stage_criterion';

export interface HybridCriterionOptions extends TwoStageCriterionOptions {
  k_one2many?: number;
  lambda_one2many?: number;
}

@register('criterion', 'hybrid')
export class HybridCriterion extends TwoStageCriterion {
  readonly kOne2many: number;
  readonly lambdaOne2many: number;

  constructor(opts: HybridCriterionOptions) {
    super({ ...opts, two_stage_binary_cls: opts.two_stage_binary_cls ?? true }, [...TWO_STAGE_KEYS, 'k_one2many', 'lambda_one2many'], 'HybridCriterion');
    this.kOne2many = numberOption('HybridCriterion', 'k_one2many', opts.k_one2many, 6, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0 (0: no one-to-many branch)');
    this.lambdaOne2many = numberOption('HybridCriterion', 'lambda_one2many', opts.lambda_one2many, 1, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    if (this.matchNum) throw new Error('HybridCriterion: match_num (many-to-one matching) is not part of H-DETR; leave it unset');
  }

  override computeLosses(outputs: DetectorOutputs, targets: readonly DetectionTarget[], opts: ComputeOptions = {}): CriterionResult {
    const result = super.computeLosses(outputs, targets, opts);
    if (this.kOne2many === 0) return result;
    const { pred_logits_one2many: logits, pred_boxes_one2many: boxes } = outputs;
    if (!logits || !boxes) throw new Error('HybridCriterion: outputs need pred_logits_one2many and pred_boxes_one2many (or set k_one2many=0)');
    const manyTargets = repeatTargets(targets, this.kOne2many);
    const numBoxes = Math.max(countTargets(manyTargets), 1);
    const branch: CriterionResult = { losses: {}, indices: {}, ...(result.details ? { details: {} } : {}) };
    this.addDecoderLosses(branch, { pred_logits: logits, pred_boxes: boxes }, outputs.aux_outputs_one2many ?? [], manyTargets, numBoxes, {
      suffix: '_one2many',
      final: 'pred_logits_one2many/pred_boxes_one2many',
      aux: 'aux_outputs_one2many',
    });
    for (const [key, value] of Object.entries(branch.losses)) {
      if (this.lambdaOne2many === 1) result.losses[key] = value;
      else {
        result.losses[key] = tf.mul(value, this.lambdaOne2many) as tf.Scalar;
        value.dispose();
      }
    }
    Object.assign(result.indices, branch.indices);
    if (result.details && branch.details) Object.assign(result.details, branch.details);
    return result;
  }
}
