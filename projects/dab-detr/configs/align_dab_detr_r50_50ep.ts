/**
 * Align-DETR on DAB-DETR, R50, 50 epochs (FelixCaae/AlignDETR
 * `projects/align_dab_detr/configs/align_dab_detr_r50_50ep.py` with `models/align_dab_detr_r50.py`).
 * The detector is DAB-DETR unchanged (upstream's AlignDABDETR differs from detrex's DABDETR only by its
 * name and the removed pattern option); only the criterion changes:
 *  - ManyToOneCriterion: mixed matching (MixedMatcher, costs 2/5/2 with the focal class cost) and IA-BCE
 *    (alpha 0.25, gamma 2), prime-sample weighting tau 1.5, losses 1/5/2 with `_0.._4` copies;
 *  - match_number [1,2,2,2,2,2,1]: entry 0 (the encoder of two-stage models) is unused here, decoder
 *    layers 0..4 match each GT to k = 2 queries, the last layer one-to-one. The list follows
 *    `model.transformer.decoder.num_layers` (see alignMatchNum), so a shallower decoder keeps the
 *    last layer one-to-one.
 * Training as dab_detr_r50_50ep (paper section 4.1: 50 epochs, lr x0.1 at epoch 40).
 * COCO val AP (paper Table 2, arXiv v1): 46.0 (Align-DETR-R50, DAB-DETR baseline 42.2).
 */
import { derivedWeightDict, IABCELoss, ManyToOneCriterion } from '@detr/criteria';
import { MixedMatcher } from '@detr/matchers';
import { cloneConfig, derived, L } from '@detr/registry';
import * as base from './dab_detr_r50_50ep';

/**
 * Upstream's match_number as a value derived from the decoder depth: [unused encoder slot = 1,
 * k for decoder layers 0..L-2, 1 for the last layer]. Override `model.criterion.match_num=[...]` to set
 * the whole list.
 */
function alignMatchNum(k: number) {
  return derived(({ get }) => {
    const layers = Number(get('model.transformer.decoder.num_layers'));
    return [1, ...Array.from({ length: layers - 1 }, () => k), 1];
  }, `match_num = [1, ${k} x (decoder layers - 1), 1]`);
}

export const model = cloneConfig(base.model);
model.criterion = L(ManyToOneCriterion)({
  num_classes: '${..num_classes}',
  matcher: L(MixedMatcher)({ cost_class: 2.0, cost_bbox: 5.0, cost_giou: 2.0, cost_class_type: 'focal_loss_cost', alpha: 0.25, gamma: 2.0 }),
  class_loss: L(IABCELoss)({ alpha: 0.25, gamma: 2.0 }),
  base_weight_dict: { loss_class: 1, loss_bbox: 5.0, loss_giou: 2.0 },
  weight_dict: derivedWeightDict({ num_aux: 'model.transformer.decoder.num_layers', minus_one: true }),
  tau: 1.5,
  match_num: alignMatchNum(2),
});

export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(base.lr_multiplier);
export const train = {
  ...cloneConfig(base.train),
  output_dir: './output/align_dab_detr_r50_50ep',
};
