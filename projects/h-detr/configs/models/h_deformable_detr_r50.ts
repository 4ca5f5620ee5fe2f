/**
 * H-Deformable-DETR R50 (detrex `projects/h_deformable_detr/configs/models/h_deformable_detr_r50.py`):
 * detectron2 ResNet-50 with FrozenBN (freeze_at 1), ChannelMapper to 4 levels (GroupNorm 32), deformable
 * encoder / decoder (6 + 6 layers, 8 heads, 4 levels x 4 points, FFN 2048, no dropout), two-stage
 * proposals with box refinement, mixed query selection and look-forward-twice, and the hybrid branch:
 * 300 one-to-one + 1500 one-to-many queries (two_stage_num_proposals 1800), the one-to-many queries
 * matched against the targets repeated k_one2many = 6 times, their losses times lambda_one2many = 1.
 * Focal-loss Hungarian matching 2/5/2, losses 2/5/2 with `_0.._4` and `_enc` copies (the detector adds a
 * `_one2many` copy of every weight, as detrex's HDeformableDETR.forward). Inference runs the 300
 * one-to-one queries only.
 *
 * detrex's model file leaves with_box_refine / as_two_stage false (its h_deformable_detr_r50_50ep
 * config) and the two-stage configs switch both on; only the two-stage variant exists here, so both are
 * true already in the model file.
 */
import { ChannelMapper, ResNet } from '@detr/backbones';
import { derivedWeightDict, HybridCriterion, SigmoidFocalLoss } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { derived, L } from '@detr/registry';
import { PositionEmbeddingSine } from '@detr/transformers';
import { HDeformableDETR, HDeformableDetrTransformer, HDeformableDetrTransformerDecoder, HDeformableDetrTransformerEncoder } from '../../src/index';

/**
 * detrex writes two_stage_num_proposals=1800 = 300 + 1500 by hand; here it is derived from the model's
 * query counts so overriding `model.num_queries_one2one` / `num_queries_one2many` keeps them consistent.
 */
const allQueries = derived(
  ({ get }) => Number(get('model.num_queries_one2one')) + Number(get('model.num_queries_one2many')),
  'model.num_queries_one2one + model.num_queries_one2many',
);

export const model = L(HDeformableDETR)({
  backbone: L(ResNet)({
    depth: 50,
    out_features: ['res3', 'res4', 'res5'],
    freeze_at: 1,
    norm: 'FrozenBN',
    stride_in_1x1: false,
  }),
  position_embedding: L(PositionEmbeddingSine)({ num_pos_feats: 128, temperature: 10000, normalize: true, offset: -0.5 }),
  neck: L(ChannelMapper)({
    input_shapes: { res3: { channels: 512 }, res4: { channels: 1024 }, res5: { channels: 2048 } },
    in_features: ['res3', 'res4', 'res5'],
    out_channels: 256,
    num_outs: 4,
    kernel_size: 1,
    norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 256 },
  }),
  transformer: L(HDeformableDetrTransformer)({
    encoder: L(HDeformableDetrTransformerEncoder)({
      embed_dim: 256,
      num_heads: 8,
      feedforward_dim: 2048,
      attn_dropout: 0.0,
      ffn_dropout: 0.0,
      num_layers: 6,
      post_norm: false,
      num_feature_levels: '${..num_feature_levels}',
    }),
    decoder: L(HDeformableDetrTransformerDecoder)({
      embed_dim: 256,
      num_heads: 8,
      feedforward_dim: 2048,
      attn_dropout: 0.0,
      ffn_dropout: 0.0,
      num_layers: 6,
      return_intermediate: true,
      num_feature_levels: '${..num_feature_levels}',
      look_forward_twice: true,
    }),
    as_two_stage: '${..as_two_stage}',
    num_feature_levels: 4,
    two_stage_num_proposals: allQueries,
    mixed_selection: '${..mixed_selection}',
  }),
  embed_dim: 256,
  num_classes: 80,
  num_queries_one2one: 300,
  num_queries_one2many: 1500,
  aux_loss: true,
  with_box_refine: true,
  as_two_stage: true,
  criterion: L(HybridCriterion)({
    num_classes: '${..num_classes}',
    matcher: L(HungarianMatcher)({ cost_class: 2.0, cost_bbox: 5.0, cost_giou: 2.0, cost_class_type: 'focal_loss_cost', alpha: 0.25, gamma: 2.0 }),
    // detrex DeformableCriterion: loss_class_type="focal_loss", alpha=0.25, gamma=2.0.
    class_loss: L(SigmoidFocalLoss)({ alpha: 0.25, gamma: 2.0 }),
    base_weight_dict: { loss_class: 2.0, loss_bbox: 5.0, loss_giou: 2.0 },
    weight_dict: derivedWeightDict({ num_aux: 'model.transformer.decoder.num_layers', minus_one: true, enc: true }),
    // DeformableCriterion supervises the encoder proposals class-agnostically (labels zeroed).
    two_stage_binary_cls: true,
    k_one2many: '${..k_one2many}',
    lambda_one2many: '${..lambda_one2many}',
  }),
  pixel_mean: [123.675, 116.28, 103.53],
  pixel_std: [58.395, 57.12, 57.375],
  select_box_nums_for_evaluation: 300,
  mixed_selection: true,
  k_one2many: 6,
  lambda_one2many: 1.0,
});
