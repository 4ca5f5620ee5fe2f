/**
 * A tiny DINO for fast training-mode tests on the cpu backend: a stand-in backbone (average pooling to
 * strides 8/16/32 plus 1x1 convs) and the real ChannelMapper, transformer and heads at embed_dim 32.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, Module } from '@detr/core';
import { ChannelMapper } from '@detr/backbones';
import { DINOTransformer, DINOTransformerDecoder, DINOTransformerEncoder, PositionEmbeddingSine } from '@detr/transformers';
import { DINO, type DetectionCriterion } from '../src/index';

const SHAPES = { res3: { channels: 8, stride: 8 }, res4: { channels: 12, stride: 16 }, res5: { channels: 16, stride: 32 } };

class PoolingBackbone extends Module {
  readonly convs: Record<string, Conv2d> = {};
  constructor() {
    super();
    for (const [name, s] of Object.entries(SHAPES)) this.convs[name] = this.registerModule(name, new Conv2d(3, s.channels, 1));
  }
  forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> {
    return tf.tidy(() => {
      const out: Record<string, tf.Tensor4D> = {};
      for (const [name, s] of Object.entries(SHAPES)) out[name] = this.convs[name].forward(tf.avgPool(x, s.stride, s.stride, 'valid'));
      return out;
    });
  }
}

export function buildTinyDino(opts: { look_forward_twice?: boolean; criterion?: DetectionCriterion; dn_number?: number; activation_checkpoint?: boolean } = {}): DINO {
  const embed = 32;
  const common = { embed_dim: embed, num_heads: 4, feedforward_dim: 64, attn_dropout: 0, ffn_dropout: 0, num_feature_levels: 4, activation_checkpoint: opts.activation_checkpoint ?? false };
  return new DINO({
    backbone: new PoolingBackbone(),
    position_embedding: new PositionEmbeddingSine({ num_pos_feats: embed / 2, temperature: 10000, normalize: true, offset: -0.5 }),
    neck: new ChannelMapper({ input_shapes: SHAPES, in_features: ['res3', 'res4', 'res5'], out_channels: embed, num_outs: 4, kernel_size: 1, norm_layer: { type: 'GroupNorm', num_groups: 8, num_channels: embed } }),
    transformer: new DINOTransformer({
      encoder: new DINOTransformerEncoder({ ...common, num_layers: 1 }),
      decoder: new DINOTransformerDecoder({ ...common, num_layers: 2, look_forward_twice: opts.look_forward_twice ?? true }),
      num_feature_levels: 4,
      two_stage_num_proposals: 10,
    }),
    embed_dim: embed,
    num_classes: 3,
    num_queries: 10,
    criterion: opts.criterion ?? null,
    select_box_nums_for_evaluation: 5,
    dn_number: opts.dn_number ?? 4,
    label_noise_ratio: 0.5,
    box_noise_scale: 1.0,
  });
}
