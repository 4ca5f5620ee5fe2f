/**
 * Layer layouts declared as data (detrex `detrex/layers/transformer.py`): `BaseTransformerLayer` runs
 * its `operation_order` (self_attn / cross_attn / ffn / norm; pre-norm when it starts with 'norm'),
 * and `TransformerLayerSequence` holds `num_layers` copies under `layers.{i}`.
 */
import * as tf from '@tensorflow/tfjs';
import { Module, ModuleList } from '@detr/core';
import type { AttentionArgs, AttentionModule } from './attention_args';
import type { FFN } from './ffn';

export type LayerOperation = 'self_attn' | 'cross_attn' | 'ffn' | 'norm';

/** A norm module: forward(x) -> x-shaped tensor (LayerNorm). */
export type NormModule = Module & { forward(x: tf.Tensor): tf.Tensor };

export interface BaseTransformerLayerOptions {
  /** One attention per self_attn / cross_attn entry, in order, or a factory called for each. */
  attn: AttentionModule[] | (() => AttentionModule);
  /** Factory of the FFN (one per 'ffn' entry; detrex deep-copies the given module). */
  ffn: () => FFN;
  /** Factory of the norm (one per 'norm' entry). */
  norm: () => NormModule;
  operation_order: LayerOperation[];
}

/** Keyword arguments of a layer call (detrex `BaseTransformerLayer.forward`). */
export interface TransformerLayerArgs extends Omit<AttentionArgs, 'attn_mask' | 'identity'> {
  /** One mask per attention of operation_order (null for none). */
  attn_masks?: (tf.Tensor | null)[] | null;
  /** Padding mask of the query tokens, used by self-attention. */
  query_key_padding_mask?: tf.Tensor | null;
}

export class BaseTransformerLayer extends Module {
  readonly operationOrder: LayerOperation[];
  readonly preNorm: boolean;
  readonly numAttn: number;
  readonly embedDim: number;
  readonly attentions: ModuleList<AttentionModule>;
  readonly ffns: ModuleList<FFN>;
  readonly norms: ModuleList<NormModule>;

  constructor(opts: BaseTransformerLayerOptions) {
    super();
    const order = opts.operation_order;
    const known = new Set(['self_attn', 'norm', 'cross_attn', 'ffn']);
    const bad = order.filter((o) => !known.has(o));
    if (bad.length) throw new Error(`BaseTransformerLayer: unknown operations [${bad}] in operation_order (known: self_attn, cross_attn, ffn, norm)`);
    this.operationOrder = [...order];
    this.numAttn = order.filter((o) => o === 'self_attn' || o === 'cross_attn').length;
    let attns: AttentionModule[];
    if (typeof opts.attn === 'function') {
      const make = opts.attn;
      attns = Array.from({ length: this.numAttn }, () => make());
    } else {
      attns = opts.attn;
      if (attns.length !== this.numAttn) {
        throw new Error(`BaseTransformerLayer: ${attns.length} attentions given but operation_order [${order}] has ${this.numAttn}`);
      }
    }
    if (this.numAttn === 0) throw new Error('BaseTransformerLayer: operation_order needs at least one attention');
    this.preNorm = order[0] === 'norm';
    this.attentions = this.registerModule('attentions', new ModuleList(attns));
    this.embedDim = attns[0].embedDim;
    this.ffns = this.registerModule('ffns', new ModuleList(order.filter((o) => o === 'ffn').map(() => opts.ffn())));
    this.norms = this.registerModule('norms', new ModuleList(order.filter((o) => o === 'norm').map(() => opts.norm())));
  }

  /** query [B,Nq,C] -> [B,Nq,C]; args as detrex's keyword arguments. */
  forward(query: tf.Tensor, args: TransformerLayerArgs = {}): tf.Tensor {
    const masks = args.attn_masks ?? Array(this.numAttn).fill(null);
    if (masks.length !== this.numAttn) {
      throw new Error(`BaseTransformerLayer: the length of attn_masks ${masks.length} must be equal to the number of attention in operation_order ${this.numAttn}`);
    }
    return tf.tidy(() => {
      let normIndex = 0;
      let attnIndex = 0;
      let ffnIndex = 0;
      let identity = query;
      const shared: AttentionArgs = {
        reference_points: args.reference_points,
        spatial_shapes: args.spatial_shapes,
        level_start_index: args.level_start_index,
      };
      for (const op of this.operationOrder) {
        if (op === 'self_attn') {
          query = this.attentions.at(attnIndex).forward(query, {
            ...shared,
            key: query,
            value: query,
            identity: this.preNorm ? identity : null,
            query_pos: args.query_pos,
            key_pos: args.query_pos,
            attn_mask: masks[attnIndex],
            key_padding_mask: args.query_key_padding_mask,
          });
          attnIndex++;
          identity = query;
        } else if (op === 'norm') {
          query = this.norms.at(normIndex++).forward(query);
        } else if (op === 'cross_attn') {
          query = this.attentions.at(attnIndex).forward(query, {
            ...shared,
            key: args.key,
            value: args.value,
            identity: this.preNorm ? identity : null,
            query_pos: args.query_pos,
            key_pos: args.key_pos,
            attn_mask: masks[attnIndex],
            key_padding_mask: args.key_padding_mask,
          });
          attnIndex++;
          identity = query;
        } else {
          query = this.ffns.at(ffnIndex++).forward(query, this.preNorm ? identity : null);
        }
      }
      return query;
    });
  }
}

export interface TransformerLayerSequenceOptions {
  /** A factory called num_layers times (detrex deep-copies one layer), or the list of layers. */
  transformer_layers: BaseTransformerLayer[] | (() => BaseTransformerLayer);
  num_layers: number;
}

/** Base of encoders and decoders: `layers` = num_layers BaseTransformerLayers; subclasses define forward. */
export class TransformerLayerSequence extends Module {
  readonly numLayers: number;
  readonly layers: ModuleList<BaseTransformerLayer>;

  constructor(opts: TransformerLayerSequenceOptions) {
    super();
    this.numLayers = opts.num_layers;
    let layers: BaseTransformerLayer[];
    if (typeof opts.transformer_layers === 'function') {
      const make = opts.transformer_layers;
      layers = Array.from({ length: opts.num_layers }, () => make());
    } else {
      layers = opts.transformer_layers;
      if (layers.length !== opts.num_layers) throw new Error(`TransformerLayerSequence: ${layers.length} layers given for num_layers=${opts.num_layers}`);
    }
    this.layers = this.registerModule('layers', new ModuleList(layers));
  }
}
