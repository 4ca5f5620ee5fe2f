/**
 * Conditional attention of Conditional-DETR as detrex implements it for DAB-DETR
 * (`detrex/layers/attention.py::ConditionalSelfAttention`, `ConditionalCrossAttention`):
 * content and position parts of queries and keys get their own projections.
 *
 * - Self-attention: q = Wqc x + Wqp query_pos, k = Wkc x + Wkp key_pos, v = Wv x; scale head_dim^-0.5.
 * - Cross-attention: per head, the content part and a positional part are CONCATENATED (not added):
 *   q_h = [ (Wqc x (+ Wqp query_pos in the first layer))_h || (Wsine query_sine_embed)_h ],
 *   k_h = [ (Wkc mem (+ Wkp key_pos in the first layer))_h || (Wkp key_pos)_h ],
 *   so each head has 2 * head_dim channels and the scale is (2 * head_dim)^-0.5; v = Wv mem.
 *
 * Both return identity + proj_drop(out_proj(attention)), identity defaulting to the query. Tensors are
 * batch-first [B, N, C] (detrex's DAB-DETR runs sequence-first; the maths is the same). Masks: bool
 * attn_mask [Nq, Nk] and key_padding_mask [B, Nk] with true = blocked (a float attn_mask is added).
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, Linear, Module } from '@detr/core';
import { register } from '@detr/registry';
import type { AttentionArgs, AttentionModule } from './attention_args';
import { attentionWeights, maskBias } from './attention_weights';

export interface ConditionalAttentionOptions {
  embed_dim: number;
  num_heads: number;
  attn_drop?: number;
  proj_drop?: number;
  /** Only batch-first [B, N, C] tensors are supported here. */
  batch_first?: boolean;
}

/** Extra keyword arguments detrex's DAB decoder passes to the cross-attention (through `**kwargs`). */
export interface ConditionalAttentionArgs extends AttentionArgs {
  /** [B, Nq, C] sine embedding of the reference point (already scaled / modulated by the decoder). */
  query_sine_embed?: tf.Tensor | null;
  /** The first decoder layer adds the projected positions to the content parts. */
  is_first_layer?: boolean;
}

function checkOptions(opts: ConditionalAttentionOptions, where: string): { embedDim: number; numHeads: number } {
  if (!opts || typeof opts !== 'object') throw new Error(`${where}: options must be an object {embed_dim, num_heads, ...}`);
  const { embed_dim: embedDim, num_heads: numHeads } = opts;
  if (!Number.isInteger(embedDim) || embedDim <= 0) throw new Error(`${where}: embed_dim must be a positive integer, got ${JSON.stringify(embedDim)}`);
  if (!Number.isInteger(numHeads) || numHeads <= 0 || embedDim % numHeads !== 0) {
    throw new Error(`${where}: num_heads must be a positive integer dividing embed_dim ${embedDim}, got ${JSON.stringify(numHeads)}`);
  }
  if (opts.batch_first === false) throw new Error(`${where}: only batch_first=true ([B, N, C] tensors) is supported`);
  return { embedDim, numHeads };
}

function checkTokens(t: tf.Tensor, name: string, channels: number, where: string, batch?: number): void {
  if (t.rank !== 3 || t.shape[2] !== channels || (batch !== undefined && t.shape[0] !== batch)) {
    throw new Error(`${where}: ${name} must be [${batch ?? 'B'}, N, ${channels}], got [${t.shape}]`);
  }
}

/** [B, N, heads * d] -> [B * heads, N, d]. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [b, n, c] = x.shape as [number, number, number];
  const d = c / heads;
  return x.reshape([b, n, heads, d]).transpose([0, 2, 1, 3]).reshape([b * heads, n, d]);
}

/** [B * heads, N, d] -> [B, N, heads * d]. */
function mergeHeads(x: tf.Tensor, b: number, heads: number): tf.Tensor3D {
  const [, n, d] = x.shape as [number, number, number];
  return x.reshape([b, heads, n, d]).transpose([0, 2, 1, 3]).reshape([b, n, heads * d]);
}

/** Per-head scaled dot-product attention with detrex's mask semantics; returns [B * heads, Nq, dv]. */
function attend(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  scale: number,
  b: number,
  heads: number,
  attnMask: tf.Tensor | null | undefined,
  keyPaddingMask: tf.Tensor | null | undefined,
  attnDrop: Dropout,
  where: string,
): tf.Tensor3D {
  const nq = q.shape[1];
  const nk = k.shape[1];
  const bias = maskBias(attnMask, keyPaddingMask, b, nq, nk, where, 'add'); // [1|B, 1, Nq, Nk]
  const logitsScaledQ = q.mul(scale) as tf.Tensor3D;
  const weights = attnDrop.forward(attentionWeights(logitsScaledQ, k, bias, b, heads)); // [B*h, Nq, Nk]
  return tf.matMul(weights, v) as tf.Tensor3D; // [B*h, Nq, dv]
}

/** detrex `ConditionalSelfAttention` (the DAB-DETR decoder's self-attention). */
@register('attention', 'conditional_self')
export class ConditionalSelfAttention extends Module implements AttentionModule {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly query_content_proj: Linear;
  readonly query_pos_proj: Linear;
  readonly key_content_proj: Linear;
  readonly key_pos_proj: Linear;
  readonly value_proj: Linear;
  readonly out_proj: Linear;
  readonly attn_drop: Dropout;
  readonly proj_drop: Dropout;

  constructor(opts: ConditionalAttentionOptions) {
    super();
    const { embedDim, numHeads } = checkOptions(opts, 'ConditionalSelfAttention');
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    const lin = (name: string) => this.registerModule(name, new Linear(embedDim, embedDim));
    this.query_content_proj = lin('query_content_proj');
    this.query_pos_proj = lin('query_pos_proj');
    this.key_content_proj = lin('key_content_proj');
    this.key_pos_proj = lin('key_pos_proj');
    this.value_proj = lin('value_proj');
    this.out_proj = lin('out_proj');
    this.attn_drop = this.registerModule('attn_drop', new Dropout(opts.attn_drop ?? 0));
    this.proj_drop = this.registerModule('proj_drop', new Dropout(opts.proj_drop ?? 0));
  }

  /** query [B,Nq,C]; key/value default to the query, key_pos to query_pos when shapes match -> [B,Nq,C]. */
  forward(query: tf.Tensor, args: AttentionArgs = {}): tf.Tensor {
    const where = 'ConditionalSelfAttention';
    const key = args.key ?? query;
    const value = args.value ?? key;
    const identity = args.identity ?? query;
    const queryPos = args.query_pos ?? null;
    const keyPos = args.key_pos ?? (queryPos && sameShape(queryPos.shape, key.shape) ? queryPos : null);
    if (!queryPos || !keyPos) throw new Error(`${where}: query_pos and key_pos must be passed (detrex asserts both)`);
    checkTokens(query, 'query', this.embedDim, where);
    const b = query.shape[0];
    checkTokens(key, 'key', this.embedDim, where, b);
    checkTokens(value, 'value', this.embedDim, where, b);
    checkTokens(queryPos, 'query_pos', this.embedDim, where, b);
    checkTokens(keyPos, 'key_pos', this.embedDim, where, b);
    return tf.tidy(() => {
      const q = this.query_content_proj.forward(query).add(this.query_pos_proj.forward(queryPos)); // [B,Nq,C]
      const k = this.key_content_proj.forward(key).add(this.key_pos_proj.forward(keyPos)); // [B,Nk,C]
      const v = this.value_proj.forward(value); // [B,Nk,C]
      const h = this.numHeads;
      const scale = (this.embedDim / h) ** -0.5;
      const out = attend(splitHeads(q, h), splitHeads(k, h), splitHeads(v, h), scale, b, h, args.attn_mask, args.key_padding_mask, this.attn_drop, where);
      return identity.add(this.proj_drop.forward(this.out_proj.forward(mergeHeads(out, b, h))));
    });
  }
}

export interface ConditionalCrossAttentionOptions extends ConditionalAttentionOptions {
  /**
   * Whether this layer has `query_pos_proj` (detrex keeps it only in the first decoder layer: it sets
   * `layers[i].attentions[1].query_pos_proj = None` for i >= 1, so those keys are not in its state dict).
   */
  query_pos_proj?: boolean;
}

/** detrex `ConditionalCrossAttention` (the DAB-DETR decoder's cross-attention). */
@register('attention', 'conditional_cross')
export class ConditionalCrossAttention extends Module implements AttentionModule {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly query_content_proj: Linear;
  readonly query_pos_proj: Linear | null;
  readonly query_pos_sine_proj: Linear;
  readonly key_content_proj: Linear;
  readonly key_pos_proj: Linear;
  readonly value_proj: Linear;
  readonly out_proj: Linear;
  readonly attn_drop: Dropout;
  readonly proj_drop: Dropout;

  constructor(opts: ConditionalCrossAttentionOptions) {
    super();
    const { embedDim, numHeads } = checkOptions(opts, 'ConditionalCrossAttention');
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    const lin = (name: string) => this.registerModule(name, new Linear(embedDim, embedDim));
    // Registration order = detrex's attribute order (state-dict order).
    this.query_content_proj = lin('query_content_proj');
    this.query_pos_proj = opts.query_pos_proj === false ? this.registerModule('query_pos_proj', null) : lin('query_pos_proj');
    this.query_pos_sine_proj = lin('query_pos_sine_proj');
    this.key_content_proj = lin('key_content_proj');
    this.key_pos_proj = lin('key_pos_proj');
    this.value_proj = lin('value_proj');
    this.out_proj = lin('out_proj');
    this.attn_drop = this.registerModule('attn_drop', new Dropout(opts.attn_drop ?? 0));
    this.proj_drop = this.registerModule('proj_drop', new Dropout(opts.proj_drop ?? 0));
  }

  /**
   * query [B,Nq,C], key/value [B,Nk,C] (memory), query_pos [B,Nq,C], key_pos [B,Nk,C],
   * query_sine_embed [B,Nq,C] -> [B,Nq,C].
   */
  forward(query: tf.Tensor, args: ConditionalAttentionArgs = {}): tf.Tensor {
    const where = 'ConditionalCrossAttention';
    const key = args.key ?? query;
    const value = args.value ?? key;
    const identity = args.identity ?? query;
    const queryPos = args.query_pos ?? null;
    const keyPos = args.key_pos ?? (queryPos && sameShape(queryPos.shape, key.shape) ? queryPos : null);
    if (!queryPos || !keyPos) throw new Error(`${where}: query_pos and key_pos must be passed (detrex asserts both)`);
    const sine = args.query_sine_embed;
    if (!sine) throw new Error(`${where}: query_sine_embed must be passed (the decoder's sine embedding of the reference points)`);
    const first = args.is_first_layer ?? false;
    if (first && !this.query_pos_proj) {
      throw new Error(`${where}: is_first_layer=true but this layer was built without query_pos_proj (query_pos_proj: false)`);
    }
    checkTokens(query, 'query', this.embedDim, where);
    const b = query.shape[0];
    checkTokens(key, 'key', this.embedDim, where, b);
    checkTokens(value, 'value', this.embedDim, where, b);
    checkTokens(queryPos, 'query_pos', this.embedDim, where, b);
    checkTokens(keyPos, 'key_pos', this.embedDim, where, b);
    checkTokens(sine, 'query_sine_embed', this.embedDim, where, b);
    if (sine.shape[1] !== query.shape[1]) throw new Error(`${where}: query_sine_embed has ${sine.shape[1]} queries, query has ${query.shape[1]}`);
    return tf.tidy(() => {
      const h = this.numHeads;
      const keyPosProj = this.key_pos_proj.forward(keyPos); // [B,Nk,C]
      let qContent = this.query_content_proj.forward(query); // [B,Nq,C]
      let kContent = this.key_content_proj.forward(key); // [B,Nk,C]
      if (first) {
        qContent = qContent.add((this.query_pos_proj as Linear).forward(queryPos));
        kContent = kContent.add(keyPosProj);
      }
      const qSine = this.query_pos_sine_proj.forward(sine); // [B,Nq,C]
      // Per-head concatenation: [B*h, N, hd] || [B*h, N, hd] -> [B*h, N, 2*hd].
      const q = tf.concat([splitHeads(qContent, h), splitHeads(qSine, h)], 2) as tf.Tensor3D;
      const k = tf.concat([splitHeads(kContent, h), splitHeads(keyPosProj, h)], 2) as tf.Tensor3D;
      const v = splitHeads(this.value_proj.forward(value), h); // [B*h, Nk, hd]
      const scale = ((2 * this.embedDim) / h) ** -0.5;
      const out = attend(q, k, v, scale, b, h, args.attn_mask, args.key_padding_mask, this.attn_drop, where);
      return identity.add(this.proj_drop.forward(this.out_proj.forward(mergeHeads(out, b, h))));
    });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
