/**
 * DAB-DETR's encoder (detrex `projects/dab_detr/modeling/dab_transformer.py::DabDetrTransformerEncoder`):
 * num_layers x [multi-head self-attention -> LayerNorm -> FFN (PReLU) -> LayerNorm] (post-norm) over the
 * flattened single-level tokens. Before each layer the position embedding is rescaled by the current
 * features, query_pos = pos * query_scale(x) (`query_scale` an MLP C -> C -> C), and added to q and k.
 * Optional final LayerNorm `post_norm_layer` (off in detrex's DAB-DETR configs).
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, MLP } from '@detr/core';
import { register } from '@detr/registry';
import { BaseTransformerLayer, FFN, MultiheadAttention, TransformerLayerSequence } from '@detr/transformers';
import { type ActivationOption, checkKnownOptions, ffnActivation, positiveInt, probability } from './options';

export interface DabDetrTransformerEncoderOptions {
  embed_dim?: number;
  num_heads?: number;
  attn_dropout?: number;
  feedforward_dim?: number;
  ffn_dropout?: number;
  activation?: ActivationOption;
  post_norm?: boolean;
  num_layers?: number;
  /** Accepted for config compatibility; tensors here are always batch-first [B, N, C]. */
  batch_first?: boolean;
}

const KEYS = ['embed_dim', 'num_heads', 'attn_dropout', 'feedforward_dim', 'ffn_dropout', 'activation', 'post_norm', 'num_layers', 'batch_first'];

export interface DabDetrEncoderArgs {
  /** [B, S, C] sine position embedding of the tokens. */
  query_pos: tf.Tensor;
  /** [B, S] bool, true = padding. */
  query_key_padding_mask?: tf.Tensor | null;
}

@register('encoder', 'dab_detr')
export class DabDetrTransformerEncoder extends TransformerLayerSequence {
  readonly embedDim: number;
  readonly preNorm: boolean;
  readonly query_scale: MLP;
  readonly post_norm_layer: LayerNorm | null;

  constructor(opts: DabDetrTransformerEncoderOptions = {}) {
    const where = 'DabDetrTransformerEncoder';
    checkKnownOptions(opts, KEYS, where);
    const embedDim = positiveInt(opts.embed_dim ?? 256, 'embed_dim', where);
    const numHeads = positiveInt(opts.num_heads ?? 8, 'num_heads', where);
    const attnDrop = probability(opts.attn_dropout ?? 0.1, 'attn_dropout', where);
    const ffnDrop = probability(opts.ffn_dropout ?? 0.1, 'ffn_dropout', where);
    const feedforwardDim = positiveInt(opts.feedforward_dim ?? 2048, 'feedforward_dim', where);
    const activation = ffnActivation(opts.activation, where);
    super({
      transformer_layers: () =>
        new BaseTransformerLayer({
          attn: () => new MultiheadAttention({ embed_dim: embedDim, num_heads: numHeads, attn_drop: attnDrop, batch_first: true }),
          ffn: () => new FFN({ embed_dim: embedDim, feedforward_dim: feedforwardDim, ffn_drop: ffnDrop, activation }),
          norm: () => new LayerNorm(embedDim),
          operation_order: ['self_attn', 'norm', 'ffn', 'norm'],
        }),
      num_layers: positiveInt(opts.num_layers ?? 6, 'num_layers', where),
    });
    this.embedDim = embedDim;
    this.preNorm = this.layers.at(0).preNorm;
    this.query_scale = this.registerModule('query_scale', new MLP(embedDim, embedDim, embedDim, 2));
    this.post_norm_layer = this.registerModule('post_norm_layer', opts.post_norm ? new LayerNorm(embedDim) : null);
  }

  /** query [B,S,C] (flattened features) -> memory [B,S,C]. */
  forward(query: tf.Tensor, args: DabDetrEncoderArgs): tf.Tensor {
    if (!args?.query_pos || !sameShape(args.query_pos.shape, query.shape)) {
      throw new Error(`DabDetrTransformerEncoder: query_pos must have the query's shape [${query.shape}], got [${args?.query_pos?.shape}]`);
    }
    return tf.tidy(() => {
      let out = query;
      for (const layer of this.layers) {
        const positionScales = this.query_scale.forward(out); // [B,S,C]
        out = layer.forward(out, {
          query_pos: args.query_pos.mul(positionScales),
          query_key_padding_mask: args.query_key_padding_mask ?? null,
        });
      }
      return this.post_norm_layer ? this.post_norm_layer.forward(out) : out;
    });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
