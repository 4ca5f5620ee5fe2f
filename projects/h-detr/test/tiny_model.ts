/**
 * A tiny H-Deformable-DETR for fast tests on the cpu backend: ResNet-18 (res3, res4) on small images,
 * 2 feature levels, embed_dim 32, 2 heads, 1 encoder + 2 decoder layers, 6 one-to-one + 12
 * one-to-many queries (k_one2many 2), 3 classes.
 */
import { ResNet, ChannelMapper } from '@detr/backbones';
import { HybridCriterion, expandWeightDict } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { PositionEmbeddingSine } from '@detr/transformers';
import {
  HDeformableDETR,
  HDeformableDetrTransformer,
  HDeformableDetrTransformerDecoder,
  HDeformableDetrTransformerEncoder,
  type HDeformableDETROptions,
} from '../src/index';

export const TINY = { embed: 32, heads: 2, levels: 2, encLayers: 1, decLayers: 2, q1: 6, q2: 12, classes: 3, k: 2, ffn: 64 } as const;

export function tinyCriterion(k: number = TINY.k, lambda = 1): HybridCriterion {
  return new HybridCriterion({
    num_classes: TINY.classes,
    matcher: new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }),
    // detrex h_deformable_detr_r50.py: base weights, `_0.._{L-2}` and `_enc` copies; the detector adds `_one2many`.
    weight_dict: expandWeightDict({ loss_class: 2, loss_bbox: 5, loss_giou: 2 }, { num_aux: TINY.decLayers - 1, enc: true }),
    k_one2many: k,
    lambda_one2many: lambda,
  });
}

export function tinyBackbone(freezeAt = 1): ResNet {
  return new ResNet({ depth: 18, out_features: ['res3', 'res4'], freeze_at: freezeAt });
}

/** The tiny model; `backbone` reuses a ResNet from tinyBackbone (building one is the slow part). */
export function buildTinyHDetr(over: Partial<HDeformableDETROptions> & { look_forward_twice?: boolean; freeze_at?: number; backbone?: ResNet } = {}): HDeformableDETR {
  const { look_forward_twice, freeze_at, backbone: given, ...rest } = over;
  const common = { embed_dim: TINY.embed, num_heads: TINY.heads, feedforward_dim: TINY.ffn, attn_dropout: 0, ffn_dropout: 0, num_feature_levels: TINY.levels };
  const backbone = given ?? tinyBackbone(freeze_at ?? 1);
  return new HDeformableDETR({
    backbone,
    position_embedding: new PositionEmbeddingSine({ num_pos_feats: TINY.embed / 2, temperature: 10000, normalize: true, offset: -0.5 }),
    neck: new ChannelMapper({
      input_shapes: backbone.outputShape(),
      in_features: ['res3', 'res4'],
      out_channels: TINY.embed,
      num_outs: TINY.levels,
      kernel_size: 1,
      norm_layer: { type: 'GroupNorm', num_groups: 8, num_channels: TINY.embed },
    }),
    transformer: new HDeformableDetrTransformer({
      encoder: new HDeformableDetrTransformerEncoder({ ...common, num_layers: TINY.encLayers, post_norm: false }),
      decoder: new HDeformableDetrTransformerDecoder({ ...common, num_layers: TINY.decLayers, return_intermediate: true, look_forward_twice: look_forward_twice ?? true }),
      as_two_stage: true,
      num_feature_levels: TINY.levels,
      two_stage_num_proposals: TINY.q1 + TINY.q2,
      mixed_selection: true,
    }),
    embed_dim: TINY.embed,
    num_classes: TINY.classes,
    num_queries_one2one: TINY.q1,
    num_queries_one2many: TINY.q2,
    criterion: null,
    aux_loss: true,
    with_box_refine: true,
    as_two_stage: true,
    select_box_nums_for_evaluation: 10,
    mixed_selection: true,
    k_one2many: TINY.k,
    lambda_one2many: 1,
    ...rest,
  });
}
