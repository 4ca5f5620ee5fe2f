/**
 * DINO R50 4-scale (detrex `projects/dino/configs/models/dino_r50.py`): detectron2 ResNet-50 with
 * FrozenBN (freeze_at 1), ChannelMapper to 4 levels, deformable encoder / decoder (6 + 6 layers, 8 heads,
 * 4 levels x 4 points), two-stage query selection of 900 queries, contrastive denoising (100 queries),
 * focal-loss Hungarian matching 2/5/2 and losses 1/5/2 with `_0.._4`, `_enc`, `_dn` copies.
 */
import { ChannelMapper, ResNet } from '@detr/backbones';
import { DINOCriterion, derivedWeightDict, SigmoidFocalLoss } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { L } from '@detr/registry';
import { DINOTransformer, DINOTransformerDecoder, DINOTransformerEncoder, PositionEmbeddingSine } from '@detr/transformers';
import { DINO } from '../../src/index';

export const model = L(DINO)({
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
  transformer: L(DINOTransformer)({
    encoder: L(DINOTransformerEncoder)({
      embed_dim: 256,
      num_heads: 8,
      feedforward_dim: 2048,
      attn_dropout: 0.0,
      ffn_dropout: 0.0,
      num_layers: 6,
      post_norm: false,
      num_feature_levels: '${..num_feature_levels}',
    }),
    decoder: L(DINOTransformerDecoder)({
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
    num_feature_levels: 4,
    two_stage_num_proposals: '${..num_queries}',
  }),
  embed_dim: 256,
  num_classes: 80,
  num_queries: 900,
  aux_loss: true,
  select_box_nums_for_evaluation: 300,
  criterion: L(DINOCriterion)({
    num_classes: '${..num_classes}',
    matcher: L(HungarianMatcher)({ cost_class: 2.0, cost_bbox: 5.0, cost_giou: 2.0, alpha: 0.25, gamma: 2.0 }),
    class_loss: L(SigmoidFocalLoss)({ alpha: 0.25, gamma: 2.0 }),
    base_weight_dict: { loss_class: 1, loss_bbox: 5.0, loss_giou: 2.0 },
    weight_dict: derivedWeightDict({ num_aux: 'model.transformer.decoder.num_layers', minus_one: true, enc: true, dn: true }),
    two_stage_binary_cls: false,
  }),
  dn_number: 100,
  label_noise_ratio: 0.5,
  box_noise_scale: 1.0,
  pixel_mean: [123.675, 116.28, 103.53],
  pixel_std: [58.395, 57.12, 57.375],
  input_format: 'RGB',
});
