/**
 * detrex `MultiScaleDeformableAttention` (`detrex/layers/multi_scale_deform_attn.py`), batch-first:
 * value projection (padding zeroed), per-query sampling offsets and attention weights (softmax jointly
 * over levels x points), sampling around 2-d reference points or inside 4-d reference boxes, output
 * projection, and the residual added inside the module (identity = query without query_pos).
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, Linear, Module, constant_, xavierUniform_ } from '@detr/core';
import { register } from '@detr/registry';
import type { AttentionArgs, AttentionModule } from './attention_args';
import { keepMask } from './masks';
import { msDeformAttnCoreAutodiff, msDeformAttnCoreGather, type SpatialShapes } from './ms_deform_attn_core';
import { msDeformAttnCoreJs } from './ms_deform_attn_js';

/**
 * Which sampling implementation runs: 'js' (plain-JS loop, needs synchronous reads: cpu, wasm,
 * tfjs-node), 'gather' (tfjs ops only, any backend), 'autodiff' (the reference), or 'auto' = 'js' on
 * cpu / wasm / tensorflow backends and 'gather' elsewhere.
 */
export type MsDeformAttnImpl = 'auto' | 'js' | 'gather' | 'autodiff';

const SYNC_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/** Multi-scale deformable attention sampling (see ms_deform_attn_core.ts) with the chosen implementation. */
export function msDeformAttnCore(value: tf.Tensor, spatialShapes: SpatialShapes, samplingLocations: tf.Tensor, attentionWeights: tf.Tensor, impl: MsDeformAttnImpl = 'auto'): tf.Tensor {
  const chosen = impl === 'auto' ? (SYNC_BACKENDS.has(tf.getBackend()) ? 'js' : 'gather') : impl;
  switch (chosen) {
    case 'js':
      return msDeformAttnCoreJs(value, spatialShapes, samplingLocations, attentionWeights);
    case 'gather':
      return msDeformAttnCoreGather(value, spatialShapes, samplingLocations, attentionWeights);
    case 'autodiff':
      return msDeformAttnCoreAutodiff(value, spatialShapes, samplingLocations, attentionWeights);
    default:
      throw new Error(`msDeformAttnCore: unknown implementation '${impl}' (auto, js, gather, autodiff)`);
  }
}

export interface MultiScaleDeformableAttentionOptions {
  embed_dim?: number;
  num_heads?: number;
  num_levels?: number;
  num_points?: number;
  /** Accepted for config compatibility with detrex (a CUDA kernel setting); unused. */
  img2col_step?: number;
  dropout?: number;
  /** Only batch-first [B, N, C] is supported (detrex's DINO passes batch_first=True). */
  batch_first?: boolean;
  /** Sampling implementation (not a detrex option): 'auto' (default), 'js', 'gather' or 'autodiff'. */
  core?: MsDeformAttnImpl;
}

/** What one forward computed, for tests and debugging (detrex locals of the same names). */
export interface MsDeformAttnTrace {
  projected_value: tf.Tensor;
  sampling_locations: tf.Tensor;
  attention_weights: tf.Tensor;
  core_output: tf.Tensor;
}

@register('attention', 'ms_deform')
export class MultiScaleDeformableAttention extends Module implements AttentionModule {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly numLevels: number;
  readonly numPoints: number;
  readonly core: MsDeformAttnImpl;
  readonly sampling_offsets: Linear;
  readonly attention_weights: Linear;
  readonly value_proj: Linear;
  readonly output_proj: Linear;
  readonly dropout: Dropout;

  constructor(opts: MultiScaleDeformableAttentionOptions = {}) {
    super();
    this.embedDim = opts.embed_dim ?? 256;
    this.numHeads = opts.num_heads ?? 8;
    this.numLevels = opts.num_levels ?? 4;
    this.numPoints = opts.num_points ?? 4;
    this.core = opts.core ?? 'auto';
    if (opts.batch_first === false) throw new Error('MultiScaleDeformableAttention: only batch_first=true is supported');
    if (this.embedDim % this.numHeads !== 0) {
      throw new Error(`MultiScaleDeformableAttention: embed_dim must be divisible by num_heads, but got ${this.embedDim} and ${this.numHeads}`);
    }
    const e = this.embedDim;
    const hlp = this.numHeads * this.numLevels * this.numPoints;
    this.dropout = this.registerModule('dropout', new Dropout(opts.dropout ?? 0.1));
    this.sampling_offsets = this.registerModule('sampling_offsets', new Linear(e, hlp * 2));
    this.attention_weights = this.registerModule('attention_weights', new Linear(e, hlp));
    this.value_proj = this.registerModule('value_proj', new Linear(e, e));
    this.output_proj = this.registerModule('output_proj', new Linear(e, e));
    this.initWeights();
  }

  /**
   * detrex `init_weights`: offsets weight 0 and bias = per-head direction (cos, sin)(2*pi*h/heads)
   * divided by its max-abs component, times (point + 1), the same on every level; attention weights 0
   * (uniform softmax); value / output projections xavier-uniform with bias 0.
   */
  initWeights(): void {
    constant_(this.sampling_offsets.getParameter('weight'), 0);
    const { numHeads: h, numLevels: l, numPoints: p } = this;
    const bias = new Float32Array(h * l * p * 2);
    for (let head = 0; head < h; head++) {
      const theta = Math.fround(head * Math.fround((2 * Math.PI) / h));
      const dir = [Math.fround(Math.cos(theta)), Math.fround(Math.sin(theta))];
      const norm = Math.max(Math.abs(dir[0]), Math.abs(dir[1]));
      for (let lvl = 0; lvl < l; lvl++) {
        for (let pt = 0; pt < p; pt++) {
          for (let k = 0; k < 2; k++) bias[((head * l + lvl) * p + pt) * 2 + k] = Math.fround(dir[k] / norm) * (pt + 1);
        }
      }
    }
    tf.tidy(() => this.sampling_offsets.getParameter('bias').assign(tf.tensor1d(bias)));
    constant_(this.attention_weights.getParameter('weight'), 0);
    constant_(this.attention_weights.getParameter('bias'), 0);
    xavierUniform_(this.value_proj.getParameter('weight'));
    constant_(this.value_proj.getParameter('bias'), 0);
    xavierUniform_(this.output_proj.getParameter('weight'));
    constant_(this.output_proj.getParameter('bias'), 0);
  }

  /**
   * query [B,Nq,C]; args.value [B,Nv,C] (defaults to query), args.key_padding_mask [B,Nv] bool,
   * args.reference_points [B,Nq,L,2] (x, y) or [B,Nq,L,4] (cx, cy, w, h), args.spatial_shapes
   * [(H, W)] per level -> [B,Nq,C]. `trace`, when given, receives the intermediates.
   */
  forward(query: tf.Tensor, args: AttentionArgs = {}, trace?: Partial<MsDeformAttnTrace>): tf.Tensor {
    const spatialShapes = args.spatial_shapes;
    const ref = args.reference_points;
    if (!spatialShapes) throw new Error('MultiScaleDeformableAttention: spatial_shapes is required');
    if (!ref) throw new Error('MultiScaleDeformableAttention: reference_points is required');
    if (spatialShapes.length !== this.numLevels) {
      throw new Error(`MultiScaleDeformableAttention: ${spatialShapes.length} spatial shapes for num_levels=${this.numLevels}`);
    }
    const out = tf.tidy(() => {
      const value0 = args.value ?? query;
      const identity = args.identity ?? query;
      const q = args.query_pos ? query.add(args.query_pos) : query;
      const [b, nq] = q.shape;
      const nv = value0.shape[1];
      const { numHeads: h, numLevels: l, numPoints: p } = this;
      const expected = spatialShapes.reduce((s, [hh, ww]) => s + hh * ww, 0);
      if (expected !== nv) throw new Error(`MultiScaleDeformableAttention: spatial shapes hold ${expected} tokens but value has ${nv}`);

      let value = this.value_proj.forward(value0); // [B,Nv,C]
      if (args.key_padding_mask) {
        // detrex `value.masked_fill(key_padding_mask[..., None], 0.0)` as a product with the 0/1 keep
        // mask [B,Nv,1]: tf.where would first tile the condition to [B,Nv,C], which costs ~60 ns per
        // element on wasm (170 ms for 8 x 2550 x 128, against 9 ms for the product).
        value = value.mul(keepMask(args.key_padding_mask));
      }
      value = value.reshape([b, nv, h, this.embedDim / h]); // [B,Nv,heads,hd]
      const offsets = this.sampling_offsets.forward(q).reshape([b, nq, h, l, p, 2]); // [B,Nq,heads,L,P,2]
      const attn = tf.softmax(this.attention_weights.forward(q).reshape([b, nq, h, l * p]), -1)
        .reshape([b, nq, h, l, p]); // [B,Nq,heads,L,P]
      const locations = samplingLocations(ref, offsets, spatialShapes, p);
      const sampled = msDeformAttnCore(value, spatialShapes, locations, attn, this.core); // [B,Nq,C]
      if (trace) {
        trace.projected_value = tf.keep(value.clone());
        trace.sampling_locations = tf.keep(locations.clone());
        trace.attention_weights = tf.keep(attn.clone());
        trace.core_output = tf.keep(sampled.clone());
      }
      return this.dropout.forward(this.output_proj.forward(sampled)).add(identity);
    });
    return out;
  }
}

/**
 * Sampling locations [B,Nq,heads,L,P,2] from reference points and offsets [B,Nq,heads,L,P,2]:
 * 2-d ref [B,Nq,L,2]: ref + offset / (W_l, H_l); 4-d ref [B,Nq,L,4]: ref_xy + offset / P * ref_wh * 0.5.
 */
export function samplingLocations(ref: tf.Tensor, offsets: tf.Tensor, spatialShapes: SpatialShapes, numPoints: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, nq, , l] = offsets.shape;
    if (ref.rank !== 4 || ref.shape[0] !== b || ref.shape[1] !== nq || ref.shape[2] !== l) {
      throw new Error(`MultiScaleDeformableAttention: reference_points must be [${b}, ${nq}, ${l}, 2|4], got [${ref.shape}]`);
    }
    const last = ref.shape[3];
    if (last === 2) {
      const normalizer = tf.tensor(spatialShapes.flatMap(([hh, ww]) => [ww, hh]), [1, 1, 1, l, 1, 2]); // (W, H) per level
      return ref.reshape([b, nq, 1, l, 1, 2]).add(offsets.div(normalizer));
    }
    if (last === 4) {
      const xy = ref.slice([0, 0, 0, 0], [b, nq, l, 2]).reshape([b, nq, 1, l, 1, 2]);
      const wh = ref.slice([0, 0, 0, 2], [b, nq, l, 2]).reshape([b, nq, 1, l, 1, 2]);
      return xy.add(offsets.div(numPoints).mul(wh).mul(0.5));
    }
    throw new Error(`Last dim of reference_points must be 2 or 4, but get ${last} instead.`);
  });
}
