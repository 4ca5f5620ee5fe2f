/**
 * Two-stage criterion (detrex `projects/dino/modeling/two_stage_criterion.py`; Align-DETR
 * `aligndetr/criterions/two_stage_criterion.py`): the set criterion plus the encoder proposals
 * `enc_outputs`, matched like any output (many-to-one: layer_spec 0, k = match_num[0]), keys `_enc`.
 * `two_stage_binary_cls` matches and supervises the proposals against class 0 for every GT. (Upstream
 * zeroes the labels of the caller's targets in place, so the DN losses computed afterwards also see
 * class 0; here the targets are copied, which only differs when that flag is on.)
 */
import { register } from '@detr/registry';
import { countTargets, type DetectionTarget } from '@detr/matchers';
import type { DetectorOutputs } from './detector_outputs';
import { SET_CRITERION_KEYS, SetCriterion, type ComputeOptions, type CriterionResult, type SetCriterionOptions } from './set_criterion';

export interface TwoStageCriterionOptions extends SetCriterionOptions {
  two_stage_binary_cls?: boolean;
}

export const TWO_STAGE_KEYS = [...SET_CRITERION_KEYS, 'two_stage_binary_cls'];

/** Targets with every label set to 0 (class-agnostic proposals). */
export function binaryTargets(targets: readonly DetectionTarget[]): DetectionTarget[] {
  return targets.map((t) => ({ labels: new Int32Array(t.labels.length), boxes: t.boxes }));
}

@register('criterion', 'two_stage')
export class TwoStageCriterion extends SetCriterion {
  readonly twoStageBinaryCls: boolean;

  constructor(opts: TwoStageCriterionOptions, allowedKeys: readonly string[] = TWO_STAGE_KEYS, name = 'TwoStageCriterion') {
    super(opts, allowedKeys, name);
    const binary = opts.two_stage_binary_cls ?? false;
    if (typeof binary !== 'boolean') throw new Error(`${name}: two_stage_binary_cls must be true or false`);
    this.twoStageBinaryCls = binary;
  }

  override computeLosses(outputs: DetectorOutputs, targets: readonly DetectionTarget[], opts: ComputeOptions = {}): CriterionResult {
    const result = super.computeLosses(outputs, targets, opts);
    if (outputs.enc_outputs) {
      const numBoxes = Math.max(countTargets(targets), 1);
      const encTargets = this.twoStageBinaryCls ? binaryTargets(targets) : targets;
      this.addMatchedLosses(result, outputs.enc_outputs, 'enc_outputs', encTargets, numBoxes, 0, '_enc');
    }
    return result;
  }
}
