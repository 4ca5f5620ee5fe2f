/**
 * A transformer layer whose attentions also receive the DAB-DETR decoder's extra keyword arguments.
 * detrex's `BaseTransformerLayer.forward` (`detrex/layers/transformer.py`) forwards `**kwargs` to every
 * attention; DAB-DETR relies on that to hand `query_sine_embed` and `is_first_layer` to
 * `ConditionalCrossAttention`. @detr/transformers' BaseTransformerLayer has no such pass-through, so this
 * subclass runs the same operation_order (same modules, same state-dict keys) and adds the two arguments.
 */
import type * as tf from '@tensorflow/tfjs';
import { tidy } from '@tensorflow/tfjs';
import { BaseTransformerLayer, type BaseTransformerLayerOptions, type TransformerLayerArgs } from '@detr/transformers';
import type { ConditionalAttentionArgs } from './conditional_attention_parts';

export interface ConditionalLayerArgs extends TransformerLayerArgs {
  /** [B, Nq, C] modulated sine embedding of the reference boxes (cross-attention only uses it). */
  query_sine_embed?: tf.Tensor | null;
  is_first_layer?: boolean;
}

export class ConditionalTransformerLayer extends BaseTransformerLayer {
  constructor(opts: BaseTransformerLayerOptions) {
    super(opts);
  }

  /** query [B,Nq,C] -> [B,Nq,C], running operation_order as detrex's BaseTransformerLayer.forward. */
  override forward(query: tf.Tensor, args: ConditionalLayerArgs = {}): tf.Tensor {
    const masks = args.attn_masks ?? Array<tf.Tensor | null>(this.numAttn).fill(null);
    if (masks.length !== this.numAttn) {
      throw new Error(`ConditionalTransformerLayer: ${masks.length} attn_masks for ${this.numAttn} attentions in operation_order`);
    }
    const extra: ConditionalAttentionArgs = { query_sine_embed: args.query_sine_embed, is_first_layer: args.is_first_layer ?? false };
    return tidy(() => {
      let normIndex = 0;
      let attnIndex = 0;
      let ffnIndex = 0;
      let identity = query;
      for (const op of this.operationOrder) {
        if (op === 'self_attn' || op === 'cross_attn') {
          const self = op === 'self_attn';
          query = this.attentions.at(attnIndex).forward(query, {
            ...extra,
            key: self ? query : args.key,
            value: self ? query : args.value,
            identity: this.preNorm ? identity : null,
            query_pos: args.query_pos,
            key_pos: self ? args.query_pos : args.key_pos,
            attn_mask: masks[attnIndex],
            key_padding_mask: self ? args.query_key_padding_mask : args.key_padding_mask,
          } as ConditionalAttentionArgs);
          attnIndex++;
          identity = query;
        } else if (op === 'norm') {
          query = this.norms.at(normIndex++).forward(query);
        } else {
          query = this.ffns.at(ffnIndex++).forward(query, this.preNorm ? identity : null);
        }
      }
      return query;
    });
  }
}
