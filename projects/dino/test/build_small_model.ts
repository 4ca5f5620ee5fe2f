/**
 * The small Align-DETR / DINO R50 4-scale model of fixtures/parity/README.md section 10 (2 encoder and
 * 2 decoder layers, 20 queries, 5 classes), built from parts as detrex's `aligndetr_r50.py` composes it.
 * Shared by the parity test and bench/model_forward.ts.
 */
import { ChannelMapper, ResNet } from '@detr/backbones';
import { DINOTransformer, DINOTransformerDecoder, DINOTransformerEncoder, PositionEmbeddingSine } from '@detr/transformers';
import { DINO, type DetectionCriterion } from '../src/index';

export interface SmallModelOptions {
  num_classes?: number;
  num_queries?: number;
  enc_layers?: number;
  dec_layers?: number;
  select_box_nums_for_evaluation?: number;
  dn_number?: number;
  criterion?: DetectionCriterion | null;
}

export function buildSmallDino(opts: SmallModelOptions = {}): DINO {
  const backbone = new ResNet({ depth: 50, out_features: ['res3', 'res4', 'res5'], freeze_at: 1, norm: 'FrozenBN', stride_in_1x1: false });
  const neck = new ChannelMapper({
    input_shapes: backbone.outputShape(),
    in_features: ['res3', 'res4', 'res5'],
    out_channels: 256,
    num_outs: 4,
    kernel_size: 1,
    norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 256 },
  });
  const common = { embed_dim: 256, num_heads: 8, feedforward_dim: 2048, attn_dropout: 0, ffn_dropout: 0, num_feature_levels: 4 };
  const numQueries = opts.num_queries ?? 20;
  const transformer = new DINOTransformer({
    encoder: new DINOTransformerEncoder({ ...common, num_layers: opts.enc_layers ?? 2, post_norm: false }),
    decoder: new DINOTransformerDecoder({ ...common, num_layers: opts.dec_layers ?? 2, return_intermediate: true, look_forward_twice: true }),
    num_feature_levels: 4,
    two_stage_num_proposals: numQueries,
  });
  return new DINO({
    backbone,
    position_embedding: new PositionEmbeddingSine({ num_pos_feats: 128, temperature: 10000, normalize: true, offset: -0.5 }),
    neck,
    transformer,
    embed_dim: 256,
    num_classes: opts.num_classes ?? 5,
    num_queries: numQueries,
    criterion: opts.criterion ?? null,
    aux_loss: true,
    select_box_nums_for_evaluation: opts.select_box_nums_for_evaluation ?? 50,
    dn_number: opts.dn_number ?? 10,
    label_noise_ratio: 0.5,
    box_noise_scale: 1.0,
  });
}
