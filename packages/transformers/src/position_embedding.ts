/**
 * Sine position embeddings (detrex `detrex/layers/position_embedding.py`): `PositionEmbeddingSine`
 * for feature maps and `get_sine_pos_embed` for boxes / points.
 */
import * as tf from '@tensorflow/tfjs';
import { Module } from '@detr/core';
import { register } from '@detr/registry';
import { readMask } from './masks';

/** dim_t[i] = temperature ** (2 * floor(i / 2) / numPosFeats), i = 0..numPosFeats-1 (float32 as torch). */
export function sineDimT(numPosFeats: number, temperature: number): Float32Array {
  const out = new Float32Array(numPosFeats);
  for (let i = 0; i < numPosFeats; i++) {
    out[i] = Math.pow(temperature, Math.fround((2 * Math.floor(i / 2)) / numPosFeats));
  }
  return out;
}

/** 1 at even channels, 0 at odd ones ([F]), and the reverse: selects sin / cos without unstack + stack. */
function parityMasks(f: number): [tf.Tensor1D, tf.Tensor1D] {
  const even = new Float32Array(f);
  const odd = new Float32Array(f);
  for (let i = 0; i < f; i++) (i % 2 === 0 ? even : odd)[i] = 1;
  return [tf.tensor1d(even), tf.tensor1d(odd)];
}

/**
 * angles [..., F] -> [..., F] with channel i = sin(angle_i) for even i, cos(angle_i) for odd i
 * (detrex: `stack((a[..., 0::2].sin(), a[..., 1::2].cos()), -1).flatten(-2)`), as
 * sin(a) * even + cos(a) * odd: exact (x * 1 + y * 0 = x for finite y) and 5 kernels where unstack,
 * two slices' worth of sin / cos and stack took ~10 (the wasm Pack / Unpack kernels are slow).
 */
function interleaveSinCos(angles: tf.Tensor): tf.Tensor {
  const f = angles.shape[angles.rank - 1];
  const [even, odd] = parityMasks(f);
  return tf.add(tf.mul(tf.sin(angles), even), tf.mul(tf.cos(angles), odd));
}

export interface PositionEmbeddingSineOptions {
  /** Features per axis; the output has 2 * num_pos_feats channels ([pos_y, pos_x]). Default 64. */
  num_pos_feats?: number;
  temperature?: number;
  /** Angle scale when normalising (2*pi). */
  scale?: number;
  eps?: number;
  /** Added to the cumulative sums before normalising (DINO: -0.5). */
  offset?: number;
  normalize?: boolean;
}

/**
 * DETR's sine embedding of a padding mask [B,H,W] (bool, true = padding) -> [B,H,W,2F] (NHWC; detrex
 * returns NCHW). y = cumsum_H(~mask), x = cumsum_W(~mask); with normalize, y = (y + offset) /
 * (y_last + eps) * scale (likewise x); channels [pos_y (F), pos_x (F)], each interleaved sin/cos.
 */
@register('position_embedding', 'sine')
export class PositionEmbeddingSine extends Module {
  readonly numPosFeats: number;
  readonly temperature: number;
  readonly scale: number;
  readonly eps: number;
  readonly offset: number;
  readonly normalize: boolean;

  constructor(opts: PositionEmbeddingSineOptions = {}) {
    super();
    this.numPosFeats = opts.num_pos_feats ?? 64;
    this.temperature = opts.temperature ?? 10000;
    this.scale = opts.scale ?? 2 * Math.PI;
    this.eps = opts.eps ?? 1e-6;
    this.offset = opts.offset ?? 0;
    this.normalize = opts.normalize ?? false;
    if (!Number.isInteger(this.numPosFeats) || this.numPosFeats <= 0 || this.numPosFeats % 2 !== 0) {
      throw new Error(`PositionEmbeddingSine: num_pos_feats must be a positive even integer, got ${opts.num_pos_feats}`);
    }
    if (!(this.temperature > 0)) throw new Error(`PositionEmbeddingSine: temperature must be > 0, got ${opts.temperature}`);
  }

  /** mask [B,H,W] bool (true = padding) -> [B,H,W,2*num_pos_feats]. */
  forward(mask: tf.Tensor3D): tf.Tensor4D {
    if (mask.rank !== 3) throw new Error(`PositionEmbeddingSine: mask must be [B,H,W], got shape [${mask.shape}]`);
    const [b, h, w] = mask.shape;
    return tf.tensor4d(this.embedMask(readMask(mask), b, h, w), [b, h, w, 2 * this.numPosFeats]);
  }

  /**
   * The embedding of a mask given as bytes [B,H,W] (1 = padding), computed in plain JS: the mask is a
   * constant, and the embedding at a pixel depends only on (cumulative count, last count) along each
   * axis, so each distinct pair is evaluated once and copied. The arithmetic is torch's float32 op
   * sequence, each step rounded with Math.fround (cumsum, + offset, / (last + eps), * scale, / dim_t),
   * so angles are bit-identical to the tensor version; sin / cos differ from float32 kernels by at
   * most an ulp. 20-50x faster on wasm than ~70 small tfjs kernels per level (bench/train_step.ts).
   */
  embedMask(mask: Uint8Array, b: number, h: number, w: number): Float32Array {
    const f = this.numPosFeats;
    if (mask.length !== b * h * w) throw new Error(`PositionEmbeddingSine: mask has ${mask.length} entries, expected ${b}x${h}x${w}`);
    const dimT = sineDimT(f, this.temperature);
    const offset = Math.fround(this.offset);
    const eps = Math.fround(this.eps);
    const scale = Math.fround(this.scale);
    const normalize = this.normalize;
    /** Embedding of cumulative count k with last count `last` along an axis of length n, memoised. */
    const memo = (n: number) => {
      const cache = new Map<number, Float32Array>();
      return (k: number, last: number): Float32Array => {
        const key = k * (n + 1) + last;
        let e = cache.get(key);
        if (!e) {
          let v = k;
          if (normalize) v = Math.fround(Math.fround(Math.fround(k + offset) / Math.fround(last + eps)) * scale);
          e = new Float32Array(f);
          for (let c = 0; c < f; c++) {
            const angle = Math.fround(v / dimT[c]);
            e[c] = c % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
          }
          cache.set(key, e);
        }
        return e;
      };
    };
    const embedY = memo(h);
    const embedX = memo(w);
    const out = new Float32Array(b * h * w * 2 * f);
    const yCum = new Int32Array(h * w);
    const xCum = new Int32Array(h * w);
    for (let n = 0; n < b; n++) {
      const base = n * h * w;
      // y = cumsum over rows of ~mask, x = cumsum over columns.
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const valid = mask[base + i * w + j] ? 0 : 1;
          yCum[i * w + j] = (i > 0 ? yCum[(i - 1) * w + j] : 0) + valid;
          xCum[i * w + j] = (j > 0 ? xCum[i * w + j - 1] : 0) + valid;
        }
      }
      for (let i = 0; i < h; i++) {
        const xLast = xCum[i * w + w - 1];
        for (let j = 0; j < w; j++) {
          const at = (base + i * w + j) * 2 * f;
          out.set(embedY(yCum[i * w + j], yCum[(h - 1) * w + j]), at); // channels [pos_y | pos_x]
          out.set(embedX(xCum[i * w + j], xLast), at + f);
        }
      }
    }
    return out;
  }
}

export interface SinePosEmbedOptions {
  num_pos_feats?: number;
  temperature?: number;
  /** Swap the first two coordinate blocks ([x, y, ...] -> [pos(y), pos(x), ...]). Default true. */
  exchange_xy?: boolean;
}

/**
 * detrex `get_sine_pos_embed`: pos [..., n] -> [..., n * num_pos_feats]. Each coordinate p becomes
 * interleaved sin/cos of p * 2pi / dim_t; blocks are concatenated in coordinate order, the first two
 * swapped when exchange_xy (boxes (cx, cy, w, h) -> [y, x, w, h]).
 */
export function getSinePosEmbed(pos: tf.Tensor, opts: SinePosEmbedOptions = {}): tf.Tensor {
  const numPosFeats = opts.num_pos_feats ?? 128;
  const temperature = opts.temperature ?? 10000;
  const exchangeXY = opts.exchange_xy ?? true;
  return tf.tidy(() => {
    const n = pos.shape[pos.rank - 1];
    const lead = pos.shape.slice(0, -1);
    const dimT = tf.tensor1d(sineDimT(numPosFeats, temperature));
    // Swapping the first two coordinates before embedding = swapping their output blocks after.
    const p = exchangeXY && n >= 2 ? swapFirstTwo(pos) : pos;
    const angles = p.mul(2 * Math.PI).expandDims(-1).div(dimT); // [..., n, F]
    return interleaveSinCos(angles).reshape([...lead, n * numPosFeats]); // [..., n*F]
  });
}

/** [..., n] -> the same with entries 0 and 1 of the last axis swapped. */
function swapFirstTwo(pos: tf.Tensor): tf.Tensor {
  const n = pos.shape[pos.rank - 1];
  const begin = (i: number) => [...pos.shape.slice(0, -1).map(() => 0), i];
  const size = (k: number) => [...pos.shape.slice(0, -1).map(() => -1), k];
  const parts = [tf.slice(pos, begin(1), size(1)), tf.slice(pos, begin(0), size(1))];
  if (n > 2) parts.push(tf.slice(pos, begin(2), size(n - 2)));
  return tf.concat(parts, -1);
}
