/**
 * DAB-DETR R50 (detrex `projects/dab_detr/configs/models/dab_detr_r50.py`): detectron2 ResNet-50 with
 * FrozenBN (freeze_at 1), only res5 (stride 32, 2048 channels) through a 1x1 input projection, sine
 * position embedding (temperature 20), 6 encoder + 6 decoder layers (8 heads, PReLU FFN 2048, no dropout)
 * with conditional self / cross attention and modulated positional attention (`modulate_hw_attn`),
 * 300 anchor-box queries, focal-loss Hungarian matching 2/5/2, losses 1/5/2 with `_0.._4` copies.
 */
import { ResNet } from '@detr/backbones';
import { derivedWeightDict, SetCriterion, SigmoidFocalLoss } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { L } from '@detr/registry';
import { PositionEmbeddingSine } from '@detr/transformers';
import { DABDETR, DabDetrTransformer, DabDetrTransformerDecoder, DabDetrTransformerEncoder } from '../../src/index';

export const model = L(DABDETR)({
  backbone: L(ResNet)({
    depth: 50,
    // detrex asks for res2..res5 but DAB-DETR reads only in_features[-1]; building up to res5 is the same network.
    out_features: ['res5'],
    freeze_at: 1,
    norm: 'FrozenBN',
    stride_in_1x1: false,
  }),
  /** Only the last level is used (single-scale DAB-DETR). */
  in_features: ['res5'],
  in_channels: 2048,
  position_embedding: L(PositionEmbeddingSine)({ num_pos_feats: 128, temperature: 20, normalize: true }),
  transformer: L(DabDetrTransformer)({
    encoder: L(DabDetrTransformerEncoder)({
      embed_dim: 256,
      num_heads: 8,
      attn_dropout: 0.0,
      feedforward_dim: 2048,
      ffn_dropout: 0.0,
      // detrex: activation=L(nn.PReLU)(), one PReLU per FFN.
      activation: 'prelu',
      num_layers: 6,
    }),
    decoder: L(DabDetrTransformerDecoder)({
      embed_dim: 256,
      num_heads: 8,
      attn_dropout: 0.0,
      feedforward_dim: 2048,
      ffn_dropout: 0.0,
      activation: 'prelu',
      num_layers: 6,
      modulate_hw_attn: true,
    }),
    /** Pattern embeddings as in Anchor DETR (detrex's `3patterns` configs use 3). */
    num_patterns: 0,
  }),
  embed_dim: 256,
  num_classes: 80,
  num_queries: 300,
  criterion: L(SetCriterion)({
    num_classes: '${..num_classes}',
    matcher: L(HungarianMatcher)({ cost_class: 2.0, cost_bbox: 5.0, cost_giou: 2.0, cost_class_type: 'focal_loss_cost', alpha: 0.25, gamma: 2.0 }),
    // detrex: loss_class_type="focal_loss", alpha=0.25, gamma=2.0.
    class_loss: L(SigmoidFocalLoss)({ alpha: 0.25, gamma: 2.0 }),
    base_weight_dict: { loss_class: 1, loss_bbox: 5.0, loss_giou: 2.0 },
    // detrex expands the aux copies `_0.._{L-2}` in Python at load time; here they follow overrides.
    weight_dict: derivedWeightDict({ num_aux: 'model.transformer.decoder.num_layers', minus_one: true }),
  }),
  aux_loss: true,
  // detrex's no-op freeze (the centres still train); hard_freeze_anchor_box_centers=true really freezes them.
  freeze_anchor_box_centers: true,
  select_box_nums_for_evaluation: 300,
});
