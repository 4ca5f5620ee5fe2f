/**
 * Multi-head attention: torch.nn.MultiheadAttention (packed q/k/v in_proj, batch_first) and detrex's
 * wrapper `MultiheadAttention` (`detrex/layers/attention.py`): position embeddings added to query and
 * key (not value), bool masks with true = blocked, the residual added inside.
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, Linear, Module, constant_, getGlobalRng, xavierUniform_ } from '@detr/core';
import { attentionWeights, maskBias } from './attention_weights';
import { register } from '@detr/registry';
import type { AttentionArgs, AttentionModule } from './attention_args';

/**
 * torch.nn.MultiheadAttention with batch_first=True. State-dict keys `in_proj_weight` ([3E, E] in
 * torch, stored [E, 3E] here under layout 'linear'), `in_proj_bias` [3E], `out_proj.{weight,bias}`.
 */
export class TorchMultiheadAttention extends Module {
  readonly inProjWeight: tf.Variable;
  readonly inProjBias: tf.Variable;
  readonly outProj: Linear;
  readonly headDim: number;

  constructor(readonly embedDim: number, readonly numHeads: number, readonly dropout = 0) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: embed_dim ${embedDim} not divisible by num_heads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.inProjWeight = this.registerParameter('in_proj_weight', tf.zeros([embedDim, 3 * embedDim]), 'linear');
    this.inProjBias = this.registerParameter('in_proj_bias', tf.zeros([3 * embedDim]));
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim));
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`MultiheadAttention: dropout must be in [0, 1), got ${dropout}`);
    this.resetParameters();
  }

  /** torch `_reset_parameters`: xavier_uniform in_proj, zero in_proj and out_proj biases. */
  resetParameters(): void {
    xavierUniform_(this.getParameter('in_proj_weight'));
    constant_(this.getParameter('in_proj_bias'), 0);
    constant_(this.outProj.getParameter('bias'), 0);
  }

  /** [B, N, E] -> [B*heads, N, hd]. */
  private splitHeads(x: tf.Tensor): tf.Tensor3D {
    const [b, n] = x.shape;
    return x.reshape([b, n, this.numHeads, this.headDim]).transpose([0, 2, 1, 3]).reshape([b * this.numHeads, n, this.headDim]);
  }

  /**
   * query [B,Nq,E], key [B,Nk,E], value [B,Nk,E]; attnMask [Nq,Nk] bool (true = blocked);
   * keyPaddingMask [B,Nk] bool (true = padding) -> [B,Nq,E].
   */
  forward(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, attnMask?: tf.Tensor | null, keyPaddingMask?: tf.Tensor | null): tf.Tensor {
    return tf.tidy(() => {
      for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
        if (t.rank !== 3) throw new Error(`MultiheadAttention: ${name} must be [B, N, E], got [${t.shape}]`);
      }
      const [b, nq, e] = (query as tf.Tensor3D).shape;
      const nk = (key as tf.Tensor3D).shape[1];
      if (e !== this.embedDim) throw new Error(`MultiheadAttention: query has ${e} channels, expected ${this.embedDim}`);
      const [wq, wk, wv] = tf.split(this.inProjWeight, 3, 1); // 3 x [E, E]
      const [bq, bk, bv] = tf.split(this.inProjBias, 3, 0);
      const q = this.splitHeads(tf.matMul(query.reshape([-1, e]), wq).add(bq).reshape([b, nq, e])); // [B*h, Nq, hd]
      const k = this.splitHeads(tf.matMul(key.reshape([-1, e]), wk).add(bk).reshape([b, nk, e])); // [B*h, Nk, hd]
      const v = this.splitHeads(tf.matMul(value.reshape([-1, e]), wv).add(bv).reshape([b, nk, e])); // [B*h, Nk, hd]
      const qScaled = q.mul(1 / Math.sqrt(this.headDim)) as tf.Tensor3D;
      const bias = maskBias(attnMask, keyPaddingMask, b, nq, nk, 'MultiheadAttention', 'block'); // [1|B, 1, Nq, Nk]
      let weights: tf.Tensor = attentionWeights(qScaled, k, bias, b, this.numHeads); // softmax(q kᵀ + bias): [B*h, Nq, Nk]
      if (this.training && this.dropout > 0) weights = tf.dropout(weights, this.dropout, undefined, getGlobalRng().nextUint32());
      const out = tf.matMul(weights, v) // [B*h, Nq, hd]
        .reshape([b, this.numHeads, nq, this.headDim])
        .transpose([0, 2, 1, 3])
        .reshape([b, nq, e]); // [B, Nq, E]
      return this.outProj.forward(out);
    });
  }
}


export interface MultiheadAttentionOptions {
  embed_dim: number;
  num_heads: number;
  attn_drop?: number;
  proj_drop?: number;
  /** Only batch-first [B, N, C] tensors are supported (detrex's DINO/Align-DETR use batch_first=True). */
  batch_first?: boolean;
}

/**
 * detrex `MultiheadAttention`: out = identity + proj_drop(attn(query + query_pos, key + key_pos, value)).
 * key defaults to query, value to key, identity to query; key_pos defaults to query_pos when shapes match.
 */
@register('attention', 'multihead')
export class MultiheadAttention extends Module implements AttentionModule {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly attn: TorchMultiheadAttention;
  readonly projDrop: Dropout;

  constructor(opts: MultiheadAttentionOptions) {
    super();
    if (opts.batch_first === false) throw new Error('MultiheadAttention: only batch_first=true is supported');
    this.embedDim = opts.embed_dim;
    this.numHeads = opts.num_heads;
    this.attn = this.registerModule('attn', new TorchMultiheadAttention(opts.embed_dim, opts.num_heads, opts.attn_drop ?? 0));
    this.projDrop = this.registerModule('proj_drop', new Dropout(opts.proj_drop ?? 0));
  }

  forward(query: tf.Tensor, args: AttentionArgs = {}): tf.Tensor {
    return tf.tidy(() => {
      const key = args.key ?? query;
      const value = args.value ?? key;
      const identity = args.identity ?? query;
      let keyPos = args.key_pos ?? null;
      if (!keyPos && args.query_pos && sameShape(args.query_pos.shape, key.shape)) keyPos = args.query_pos;
      const q = args.query_pos ? query.add(args.query_pos) : query;
      const k = keyPos ? key.add(keyPos) : key;
      const out = this.attn.forward(q, k, value, args.attn_mask, args.key_padding_mask);
      return identity.add(this.projDrop.forward(out));
    });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
