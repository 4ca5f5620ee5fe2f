/**
 * What the deformable decoders of DINO and H-Deformable-DETR share (detrex
 * `projects/dino/modeling/dino_transformer.py` and `projects/h_deformable_detr/modeling/
 * h_deformable_transformer.py`, both after Deformable DETR's iterative box refinement): the layer
 * (self-attention -> LN -> multi-scale deformable cross-attention -> LN -> FFN -> LN) and the refinement
 * of the reference boxes by each layer's box head.
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, inverseSigmoid } from '@detr/core';
import { FFN } from '../ffn';
import { MultiScaleDeformableAttention } from '../ms_deform_attn';
import { MultiheadAttention } from '../multihead_attention';
import { BaseTransformerLayer } from '../transformer_layer';

export interface DeformableDecoderLayerOptions {
  embed_dim?: number;
  num_heads?: number;
  feedforward_dim?: number;
  attn_dropout?: number;
  ffn_dropout?: number;
  num_feature_levels?: number;
}

/** A factory of decoder layers with detrex's defaults (256-d, 8 heads, FFN 1024, dropout 0.1, 4 levels). */
export function deformableDecoderLayerFactory(opts: DeformableDecoderLayerOptions): () => BaseTransformerLayer {
  const embedDim = opts.embed_dim ?? 256;
  const numHeads = opts.num_heads ?? 8;
  const attnDropout = opts.attn_dropout ?? 0.1;
  return () =>
    new BaseTransformerLayer({
      attn: [
        new MultiheadAttention({ embed_dim: embedDim, num_heads: numHeads, attn_drop: attnDropout, batch_first: true }),
        new MultiScaleDeformableAttention({ embed_dim: embedDim, num_heads: numHeads, dropout: attnDropout, batch_first: true, num_levels: opts.num_feature_levels ?? 4 }),
      ],
      ffn: () => new FFN({ embed_dim: embedDim, feedforward_dim: opts.feedforward_dim ?? 1024, output_dim: embedDim, ffn_drop: opts.ffn_dropout ?? 0.1 }),
      norm: () => new LayerNorm(embedDim),
      operation_order: ['self_attn', 'norm', 'cross_attn', 'norm', 'ffn', 'norm'],
    });
}

/**
 * Iterative box refinement: delta [B,Nq,4] from a layer's box head, reference [B,Nq,4] boxes or [B,Nq,2]
 * points (normalised) -> sigmoid(delta + inverse_sigmoid(reference)) [B,Nq,4]; for points only x, y get
 * the reference added (detrex: `tmp[..., :2] += inverse_sigmoid(reference_points)`).
 */
export function refineReference(delta: tf.Tensor, reference: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const last = reference.shape[reference.rank - 1];
    if (last === 4) return tf.sigmoid(delta.add(inverseSigmoid(reference)));
    const [b, nq, d] = delta.shape as [number, number, number];
    const xy = delta.slice([0, 0, 0], [b, nq, 2]).add(inverseSigmoid(reference));
    return tf.sigmoid(tf.concat([xy, delta.slice([0, 0, 2], [b, nq, d - 2])], -1));
  });
}
