/**
 * DINO's deformable encoder (detrex `projects/dino/modeling/dino_transformer.py::DINOTransformerEncoder`):
 * num_layers x [MSDeformAttn self-attention -> LayerNorm -> FFN -> LayerNorm] over the flattened
 * multi-scale tokens, with an optional final LayerNorm (`post_norm_layer`).
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, checkpoint } from '@detr/core';
import { register } from '@detr/registry';
import { FFN } from '../ffn';
import { MultiScaleDeformableAttention } from '../ms_deform_attn';
import type { SpatialShapes } from '../ms_deform_attn_core';
import { BaseTransformerLayer, TransformerLayerSequence } from '../transformer_layer';

export interface DINOTransformerEncoderOptions {
  embed_dim?: number;
  num_heads?: number;
  feedforward_dim?: number;
  attn_dropout?: number;
  ffn_dropout?: number;
  num_layers?: number;
  post_norm?: boolean;
  num_feature_levels?: number;
  /** Accepted for config compatibility (detrex's checkpoint wrapper, a no-op there too). */
  use_checkpoint?: boolean;
  /**
   * Recompute each layer in the backward pass instead of keeping its activations (ops/checkpoint.ts)
   * while training: what detrex's `use_checkpoint` means to do. Needs attn_dropout = ffn_dropout = 0
   * (the recomputation must see the same values). Default false.
   */
  activation_checkpoint?: boolean;
}

export interface DINOEncoderArgs {
  query_pos: tf.Tensor;
  /** [B,S] bool padding mask of the tokens (value zeroed in the deformable attention). */
  query_key_padding_mask: tf.Tensor;
  /** [B,S,L,2] encoder reference points. */
  reference_points: tf.Tensor;
  spatial_shapes: SpatialShapes;
  level_start_index?: number[];
}

@register('encoder', 'dino')
export class DINOTransformerEncoder extends TransformerLayerSequence {
  readonly embedDim: number;
  readonly preNorm: boolean;
  readonly post_norm_layer: LayerNorm | null;
  readonly activationCheckpoint: boolean;

  constructor(opts: DINOTransformerEncoderOptions = {}) {
    const embedDim = opts.embed_dim ?? 256;
    super({
      transformer_layers: () =>
        new BaseTransformerLayer({
          attn: () =>
            new MultiScaleDeformableAttention({
              embed_dim: embedDim,
              num_heads: opts.num_heads ?? 8,
              dropout: opts.attn_dropout ?? 0.1,
              batch_first: true,
              num_levels: opts.num_feature_levels ?? 4,
            }),
          ffn: () => new FFN({ embed_dim: embedDim, feedforward_dim: opts.feedforward_dim ?? 1024, output_dim: embedDim, num_fcs: 2, ffn_drop: opts.ffn_dropout ?? 0.1 }),
          norm: () => new LayerNorm(embedDim),
          operation_order: ['self_attn', 'norm', 'ffn', 'norm'],
        }),
      num_layers: opts.num_layers ?? 6,
    });
    this.embedDim = this.layers.at(0).embedDim;
    this.preNorm = this.layers.at(0).preNorm;
    this.post_norm_layer = this.registerModule('post_norm_layer', opts.post_norm ? new LayerNorm(this.embedDim) : null);
    this.activationCheckpoint = opts.activation_checkpoint ?? false;
    if (this.activationCheckpoint && ((opts.attn_dropout ?? 0.1) > 0 || (opts.ffn_dropout ?? 0.1) > 0)) {
      throw new Error('DINOTransformerEncoder: activation_checkpoint needs attn_dropout = ffn_dropout = 0 (a recomputed layer would draw new dropout masks)');
    }
  }

  /** query [B,S,C] (flattened multi-scale features) -> memory [B,S,C]. */
  forward(query: tf.Tensor, args: DINOEncoderArgs): tf.Tensor {
    return tf.tidy(() => {
      let out = query;
      for (const layer of this.layers) {
        const run = (q: tf.Tensor, pos: tf.Tensor, mask: tf.Tensor, ref: tf.Tensor) =>
          layer.forward(q, {
            query_pos: pos,
            query_key_padding_mask: mask,
            reference_points: ref,
            spatial_shapes: args.spatial_shapes,
            level_start_index: args.level_start_index,
          });
        // query_pos carries the trainable level embedding, so it is a checkpoint input too.
        out = this.activationCheckpoint && this.training
          ? checkpoint(run, [out, args.query_pos], layer.trainableVariables().map((v) => v.variable), [args.query_key_padding_mask, args.reference_points])
          : run(out, args.query_pos, args.query_key_padding_mask, args.reference_points);
      }
      return this.post_norm_layer ? this.post_norm_layer.forward(out) : out;
    });
  }
}
