/**
 * The keyword arguments detrex's `BaseTransformerLayer` passes to every attention module
 * (`detrex/layers/transformer.py`), so attentions of different kinds are interchangeable in a layer.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Module } from '@detr/core';

export interface AttentionArgs {
  /** Keys [B, Nk, C]; defaults to the query. */
  key?: tf.Tensor | null;
  /** Values [B, Nk, C]; defaults to the key. */
  value?: tf.Tensor | null;
  /** Residual added to the output; defaults to the query (without query_pos). */
  identity?: tf.Tensor | null;
  query_pos?: tf.Tensor | null;
  key_pos?: tf.Tensor | null;
  /** [Nq, Nk] bool, true = blocked (nn.MultiheadAttention's bool attn_mask). */
  attn_mask?: tf.Tensor | null;
  /** [B, Nk] bool, true = padding. */
  key_padding_mask?: tf.Tensor | null;
  /** Deformable attention: [B, Nq, L, 2|4] normalised reference points / boxes. */
  reference_points?: tf.Tensor | null;
  /** Deformable attention: (H, W) of each level. */
  spatial_shapes?: readonly (readonly [number, number])[];
  /** Deformable attention: first token of each level (derived from spatial_shapes when absent). */
  level_start_index?: number[];
}

/** An attention that a transformer layer can hold: embed_dim plus forward(query, args). */
export interface AttentionModule extends Module {
  readonly embedDim: number;
  forward(query: tf.Tensor, args?: AttentionArgs): tf.Tensor;
}
