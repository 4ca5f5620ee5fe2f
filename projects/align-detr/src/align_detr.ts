/**
 * Align-DETR (Cai et al. 2023; detrex `projects/align_detr/modeling/aligndetr.py`, byte-identical to the
 * official FelixCaae/AlignDETR `projects/aligndetr/modeling/aligndetr.py` apart from imports). The model
 * is DINO unchanged: upstream copies DINO's detector and transformer under other class names; what
 * makes Align-DETR is its criterion (`criterion/align_detr`: MixedMatcher, IA-BCE, prime sample
 * weighting), chosen by the config. So this class is DINO with Align-DETR's constructor names
 * (`prior_init` for DINO's `prior_prob`) and a stricter option check; state-dict keys are identical.
 */
import { register } from '@detr/registry';
import { DINO, type DINOOptions } from '@detr/dino';

export interface AlignDETROptions extends Omit<DINOOptions, 'prior_prob'> {
  /** Class-head prior probability (upstream `prior_init=0.01`: bias = -log((1 - p) / p)). */
  prior_init?: number;
}

/** Every option the constructor reads: a key outside this list is a config typo. */
export const ALIGN_DETR_OPTION_KEYS = [
  'backbone',
  'position_embedding',
  'neck',
  'transformer',
  'embed_dim',
  'num_classes',
  'num_queries',
  'criterion',
  'pixel_mean',
  'pixel_std',
  'aux_loss',
  'select_box_nums_for_evaluation',
  'dn_number',
  'label_noise_ratio',
  'box_noise_scale',
  'input_format',
  'vis_period',
  'device',
  'prior_init',
  'eval_mask',
  'rng',
] as const;

/** Throws naming `where`, the unknown key and the valid ones. */
export function checkDetectorOptions(opts: object, known: readonly string[], where: string): void {
  if (opts === null || typeof opts !== 'object') throw new Error(`${where}: options must be an object`);
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new Error(`${where}: unknown option "${key}" (valid options: ${known.join(', ')})`);
  }
}

@register('detector', 'align_detr')
export class AlignDETR extends DINO {
  constructor(opts: AlignDETROptions, where = 'AlignDETR') {
    checkDetectorOptions(opts, ALIGN_DETR_OPTION_KEYS, where);
    const { prior_init, ...rest } = opts;
    if (prior_init !== undefined && !(prior_init > 0 && prior_init < 1)) {
      throw new Error(`${where}: prior_init must be a probability in (0, 1), got ${prior_init}`);
    }
    super({ ...rest, prior_prob: prior_init ?? 0.01 });
  }
}
