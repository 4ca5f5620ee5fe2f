/**
 * Align-DETR's criteria with the defaults of the official config `aligndetr_k=2_r50_4scale_12ep.py`
 * (FelixCaae/AlignDETR; detrex `projects/align_detr`): MixedMatcher(2, 5, 2), IA-BCE (alpha 0.25,
 * gamma 2), match_num [2,2,2,2,2,2,1] (encoder, decoder 0-4, last), tau 1.5.
 *  - ManyToOneCriterion (`criterion/many_to_one`): final + aux outputs (the DAB-DETR variant).
 *  - AlignDETRCriterion (`criterion/align_detr`): + encoder (`_enc`) + denoising (`_dn`, w = 1).
 * Every default is an ordinary option, so configs and overrides change them like any other.
 */
import { register } from '@detr/registry';
import { MixedMatcher, type Matcher } from '@detr/matchers';
import { DINOCriterion } from './dino_criterion';
import { IABCELoss } from './losses/ia_bce_loss';
import { SET_CRITERION_KEYS, SetCriterion, type SetCriterionOptions } from './set_criterion';
import { TWO_STAGE_KEYS, type TwoStageCriterionOptions } from './two_stage_criterion';

export const ALIGN_DETR_MATCH_NUM = [2, 2, 2, 2, 2, 2, 1];

type WithAlignDefaults<O extends SetCriterionOptions> = Omit<O, 'matcher'> & { matcher?: Matcher };

function alignDefaults<O extends SetCriterionOptions>(opts: WithAlignDefaults<O>): O {
  return {
    ...opts,
    matcher: opts.matcher ?? new MixedMatcher({}),
    class_loss: opts.class_loss ?? new IABCELoss({}),
    match_num: opts.match_num === undefined ? ALIGN_DETR_MATCH_NUM : opts.match_num,
    tau: opts.tau ?? 1.5,
  } as O;
}

export type ManyToOneCriterionOptions = WithAlignDefaults<SetCriterionOptions>;

@register('criterion', 'many_to_one')
export class ManyToOneCriterion extends SetCriterion {
  constructor(opts: ManyToOneCriterionOptions) {
    super(alignDefaults<SetCriterionOptions>(opts), SET_CRITERION_KEYS, 'ManyToOneCriterion');
  }
}

export type AlignDETRCriterionOptions = WithAlignDefaults<TwoStageCriterionOptions>;

@register('criterion', 'align_detr')
export class AlignDETRCriterion extends DINOCriterion {
  constructor(opts: AlignDETRCriterionOptions) {
    super(alignDefaults<TwoStageCriterionOptions>(opts), TWO_STAGE_KEYS, 'AlignDETRCriterion');
  }
}
