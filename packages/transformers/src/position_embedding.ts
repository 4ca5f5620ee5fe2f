/**
 * Sine position embeddings (detrex `detrex/layers/position_embedding.py`): `PositionEmbeddingSine`
 * for feature maps and `get_sine_pos_embed` for boxes / points.
 */
import * as tf from '@tensorflow/tfjs';
import { Module } from '@detr/core';
import { register } from '@detr/registry';

/** dim_t[i] = temperature ** (2 * floor(i / 2) / numPosFeats), i = 0..numPosFeats-1 (float32 as torch). */
export function sineDimT(numPosFeats: number, temperature: number): Float32Array {
  const out = new Float32Array(numPosFeats);
  for (let i = 0; i < numPosFeats; i++) {
    out[i] = Math.pow(temperature, Math.fround((2 * Math.floor(i / 2)) / numPosFeats));
  }
  return out;
}

/**
 * angles [..., F] -> [..., F] with channel i = sin(angle_i) for even i, cos(angle_i) for odd i
 * (detrex: `stack((a[..., 0::2].sin(), a[..., 1::2].cos()), -1).flatten(-2)`).
 */
function interleaveSinCos(angles: tf.Tensor): tf.Tensor {
  const shape = angles.shape;
  const f = shape[shape.length - 1];
  const pairs = angles.reshape([...shape.slice(0, -1), f / 2, 2]); // [..., F/2, 2]
  const [even, odd] = tf.unstack(pairs, -1);
  return tf.stack([tf.sin(even), tf.cos(odd)], -1).reshape(shape); // [..., F]
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
    return tf.tidy(() => {
      const [b, h, w] = mask.shape;
      const notMask = tf.logicalNot(mask.cast('bool')).cast('float32'); // [B,H,W]
      let yEmbed: tf.Tensor = tf.cumsum(notMask, 1);
      let xEmbed: tf.Tensor = tf.cumsum(notMask, 2);
      if (this.normalize) {
        const yLast = yEmbed.slice([0, h - 1, 0], [b, 1, w]); // [B,1,W]
        const xLast = xEmbed.slice([0, 0, w - 1], [b, h, 1]); // [B,H,1]
        yEmbed = yEmbed.add(this.offset).div(yLast.add(this.eps)).mul(this.scale);
        xEmbed = xEmbed.add(this.offset).div(xLast.add(this.eps)).mul(this.scale);
      }
      const dimT = tf.tensor1d(sineDimT(this.numPosFeats, this.temperature));
      const posX = interleaveSinCos(xEmbed.expandDims(-1).div(dimT)); // [B,H,W,F]
      const posY = interleaveSinCos(yEmbed.expandDims(-1).div(dimT)); // [B,H,W,F]
      return tf.concat([posY, posX], -1) as tf.Tensor4D; // [B,H,W,2F]
    });
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
    const dimT = tf.tensor1d(sineDimT(numPosFeats, temperature));
    const blocks = tf.unstack(pos, -1).map((p) => interleaveSinCos(p.expandDims(-1).mul(2 * Math.PI).div(dimT))); // n x [..., F]
    if (exchangeXY && n >= 2) [blocks[0], blocks[1]] = [blocks[1], blocks[0]];
    return tf.concat(blocks, -1);
  });
}
