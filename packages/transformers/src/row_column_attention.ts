/**
 * Row-column decoupled attention (RCDA) of Anchor DETR (arXiv 2109.07107, section 3.3; official code
 * megvii-research/AnchorDETR `models/row_column_decoupled_attention.py::MultiheadRCDA`).
 *
 * Keys are a 2-d map [H, W]. Instead of one softmax over the H*W keys, each head computes
 *   A_row = softmax_W( q_row . mean_H(k_row) / sqrt(d) )   [Nq, W]
 *   A_col = softmax_H( q_col . mean_W(k_col) / sqrt(d) )   [Nq, H]
 * and attends with the outer product: out[q] = sum_{h,w} A_col[q,h] * A_row[q,w] * v[h,w]. It is
 * computed in two steps (first over the longer axis), never forming the [Nq, H, W] weights.
 *
 * Parameters as the official module: `in_proj_weight` [5E, E] in torch (rows: q_row, q_col, k_row,
 * k_col, v; stored [E, 5E] here, layout 'linear'), `in_proj_bias` [5E], `out_proj.{weight,bias}`.
 * Tensors are batch-first; the official module returns [Nq, B, E], this one [B, Nq, E]. The residual
 * and norm belong to the layer that holds it, as upstream.
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, Linear, Module, constant_, xavierUniform_ } from '@detr/core';
import { register } from '@detr/registry';

/** Large negative logit for blocked entries (torch fills -inf; exp underflows to 0 either way). */
const BLOCKED = -1e30;

export interface MultiheadRCDAOptions {
  embed_dim: number;
  num_heads: number;
  /** Dropout on both attention weight maps (upstream `dropout`). */
  dropout?: number;
}

/** The five inputs of RCDA (official argument names). */
export interface RCDAInputs {
  /** [B, Nq, E] queries matched against the row keys (the x / width axis). */
  query_row: tf.Tensor;
  /** [B, Nq, E] queries matched against the column keys (the y / height axis). */
  query_col: tf.Tensor;
  /** [B, H, W, E], averaged over H after projection. */
  key_row: tf.Tensor;
  /** [B, H, W, E], averaged over W after projection. */
  key_col: tf.Tensor;
  /** [B, H, W, E]. */
  value: tf.Tensor;
  /**
   * [B, H, W] bool, true = padding. As upstream, only its first row blocks columns (row keys) and
   * its first column blocks rows (column keys); padding is bottom / right.
   */
  key_padding_mask?: tf.Tensor | null;
}

@register('attention', 'rcda')
export class MultiheadRCDA extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly inProjWeight: tf.Variable;
  readonly inProjBias: tf.Variable;
  readonly out_proj: Linear;
  readonly attnDrop: Dropout;

  constructor(opts: MultiheadRCDAOptions) {
    super();
    if (!opts || typeof opts !== 'object') throw new Error('MultiheadRCDA: options must be an object {embed_dim, num_heads, dropout?}');
    const { embed_dim: e, num_heads: h } = opts;
    if (!Number.isInteger(e) || e <= 0) throw new Error(`MultiheadRCDA: embed_dim must be a positive integer, got ${JSON.stringify(e)}`);
    if (!Number.isInteger(h) || h <= 0 || e % h !== 0) throw new Error(`MultiheadRCDA: num_heads must be a positive integer dividing embed_dim ${e}, got ${JSON.stringify(h)}`);
    const p = opts.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new Error(`MultiheadRCDA: dropout must be in [0, 1), got ${p}`);
    this.embedDim = e;
    this.numHeads = h;
    this.headDim = e / h;
    this.inProjWeight = this.registerParameter('in_proj_weight', tf.zeros([e, 5 * e]), 'linear');
    this.inProjBias = this.registerParameter('in_proj_bias', tf.zeros([5 * e]));
    this.out_proj = this.registerModule('out_proj', new Linear(e, e));
    this.attnDrop = this.registerModule('attn_drop', new Dropout(p)); // no parameters: not in the state dict
    this.resetParameters();
  }

  /** Official `_reset_parameters`: xavier_uniform in_proj_weight, zero in_proj and out_proj biases. */
  resetParameters(): void {
    xavierUniform_(this.getParameter('in_proj_weight'));
    constant_(this.getParameter('in_proj_bias'), 0);
    constant_(this.out_proj.getParameter('bias'), 0);
  }

  /** -> [B, Nq, E] (after out_proj; no residual). */
  forward(inputs: RCDAInputs): tf.Tensor {
    const { b, nq, hh, ww } = this.checkInputs(inputs);
    const e = this.embedDim;
    const nh = this.numHeads;
    const d = this.headDim;
    return tf.tidy(() => {
      const w = tf.split(this.inProjWeight, 5, 1); // 5 x [E, E]: q_row, q_col, k_row, k_col, v
      const bias = tf.split(this.inProjBias, 5, 0);
      const proj = (x: tf.Tensor, i: number) => tf.matMul(x.reshape([-1, e]), w[i]).add(bias[i]); // [*, E]
      const scale = d ** -0.5;
      const qRow = proj(inputs.query_row, 0).mul(scale).reshape([b, nq, nh, d]).transpose([0, 2, 1, 3]).reshape([b * nh, nq, d]);
      const qCol = proj(inputs.query_col, 1).mul(scale).reshape([b, nq, nh, d]).transpose([0, 2, 1, 3]).reshape([b * nh, nq, d]);
      const kRow = proj(inputs.key_row, 2).reshape([b, hh, ww, e]).mean(1) // [B, W, E]
        .reshape([b, ww, nh, d]).transpose([0, 2, 1, 3]).reshape([b * nh, ww, d]);
      const kCol = proj(inputs.key_col, 3).reshape([b, hh, ww, e]).mean(2) // [B, H, E]
        .reshape([b, hh, nh, d]).transpose([0, 2, 1, 3]).reshape([b * nh, hh, d]);
      const v = proj(inputs.value, 4).reshape([b, hh, ww, nh, d]).transpose([0, 3, 1, 2, 4]); // [B, h, H, W, d]

      let logitsRow: tf.Tensor = tf.matMul(qRow, kRow, false, true); // [B*h, Nq, W]
      let logitsCol: tf.Tensor = tf.matMul(qCol, kCol, false, true); // [B*h, Nq, H]
      const mask = inputs.key_padding_mask;
      if (mask) {
        const m = mask.cast('bool');
        const maskRow = m.slice([0, 0, 0], [b, 1, ww]).reshape([b, 1, 1, ww]); // first row: padded columns
        const maskCol = m.slice([0, 0, 0], [b, hh, 1]).reshape([b, 1, 1, hh]); // first column: padded rows
        logitsRow = tf.where(tf.broadcastTo(maskRow, [b, nh, nq, ww]).reshape([b * nh, nq, ww]), tf.fill(logitsRow.shape, BLOCKED), logitsRow);
        logitsCol = tf.where(tf.broadcastTo(maskCol, [b, nh, nq, hh]).reshape([b * nh, nq, hh]), tf.fill(logitsCol.shape, BLOCKED), logitsCol);
      }
      const aRow = this.attnDrop.forward(tf.softmax(logitsRow, -1)); // [B*h, Nq, W]
      const aCol = this.attnDrop.forward(tf.softmax(logitsCol, -1)); // [B*h, Nq, H]

      let out: tf.Tensor; // [B*h, Nq, d]
      if (hh < ww) {
        // Contract W first: [B*h, Nq, W] x [B*h, W, H*d] -> [B*h, Nq, H, d], then H.
        const vByW = v.transpose([0, 1, 3, 2, 4]).reshape([b * nh, ww, hh * d]);
        const outRow = tf.matMul(aRow, vByW).reshape([b * nh * nq, hh, d]);
        out = tf.matMul(aCol.reshape([b * nh * nq, 1, hh]), outRow).reshape([b * nh, nq, d]);
      } else {
        // Contract H first: [B*h, Nq, H] x [B*h, H, W*d] -> [B*h, Nq, W, d], then W.
        const vByH = v.reshape([b * nh, hh, ww * d]);
        const outCol = tf.matMul(aCol, vByH).reshape([b * nh * nq, ww, d]);
        out = tf.matMul(aRow.reshape([b * nh * nq, 1, ww]), outCol).reshape([b * nh, nq, d]);
      }
      const merged = out.reshape([b, nh, nq, d]).transpose([0, 2, 1, 3]).reshape([b, nq, e]); // [B, Nq, E]
      return this.out_proj.forward(merged);
    });
  }

  private checkInputs(inputs: RCDAInputs): { b: number; nq: number; hh: number; ww: number } {
    const where = 'MultiheadRCDA';
    const e = this.embedDim;
    for (const name of ['query_row', 'query_col', 'key_row', 'key_col', 'value'] as const) {
      if (!(inputs[name] instanceof tf.Tensor)) throw new Error(`${where}: ${name} must be a tensor`);
    }
    const { query_row: qr, query_col: qc, key_row: kr } = inputs;
    if (qr.rank !== 3 || qr.shape[2] !== e) throw new Error(`${where}: query_row must be [B, Nq, ${e}], got [${qr.shape}]`);
    const [b, nq] = qr.shape;
    if (!sameShape(qc.shape, qr.shape)) throw new Error(`${where}: query_col [${qc.shape}] must have query_row's shape [${qr.shape}]`);
    if (kr.rank !== 4 || kr.shape[0] !== b || kr.shape[3] !== e) throw new Error(`${where}: key_row must be [${b}, H, W, ${e}], got [${kr.shape}]`);
    const [, hh, ww] = kr.shape;
    for (const name of ['key_col', 'value'] as const) {
      if (!sameShape(inputs[name].shape, kr.shape)) throw new Error(`${where}: ${name} [${inputs[name].shape}] must have key_row's shape [${kr.shape}]`);
    }
    const m = inputs.key_padding_mask;
    if (m && (m.rank !== 3 || m.shape[0] !== b || m.shape[1] !== hh || m.shape[2] !== ww)) {
      throw new Error(`${where}: key_padding_mask must be [${b}, ${hh}, ${ww}] bool, got [${m.shape}]`);
    }
    return { b, nq, hh, ww };
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
