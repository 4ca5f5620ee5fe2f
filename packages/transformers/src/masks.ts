/**
 * Padding masks per feature level (detrex DINO.forward: `F.interpolate(mask[None].float(), size).bool()`)
 * and valid ratios (detrex `DINOTransformer.get_valid_ratio`). Masks are [B,H,W] bool, true = padding.
 *
 * Masks are constants (no gradient) of a few thousand entries, so these are computed in plain JS from
 * one read of the mask: as tfjs ops they were ~10 small kernels per level, each costing more in
 * dispatch on wasm than the arithmetic (bench/train_step.ts).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Source index of output index i for PyTorch's `nearest` interpolation (aten `nearest_idx`):
 * identity for equal sizes, i >> 1 for exact 2x upsampling, else min(floor(i * float(in / out)), in - 1)
 * with the scale in float32, as the CPU kernel computes it.
 */
export function nearestSourceIndex(i: number, inSize: number, outSize: number): number {
  if (outSize === inSize) return i;
  if (outSize === 2 * inSize) return i >> 1;
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(i * scale)), inSize - 1);
}

/** The mask's values as 0/1 bytes (any dtype: non-zero = padding). */
export function readMask(mask: tf.Tensor): Uint8Array {
  if (mask.dtype === 'bool') return Uint8Array.from(mask.dataSync() as Uint8Array);
  const values = mask.dataSync();
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] ? 1 : 0;
  return out;
}

/** mask [B,H,W] (bool) -> [B,h,w] bool, nearest-neighbour down/up-sampling as F.interpolate(mode='nearest'). */
export function interpolateMaskNearest(mask: tf.Tensor3D, size: [number, number]): tf.Tensor3D {
  if (mask.rank !== 3) throw new Error(`interpolateMaskNearest: mask must be [B,H,W], got shape [${mask.shape}]`);
  const [b, inH, inW] = mask.shape;
  const [outH, outW] = size;
  if (!(outH > 0 && outW > 0)) throw new Error(`interpolateMaskNearest: bad output size [${size}]`);
  const src = readMask(mask);
  const rows = Int32Array.from({ length: outH }, (_, i) => nearestSourceIndex(i, inH, outH));
  const cols = Int32Array.from({ length: outW }, (_, j) => nearestSourceIndex(j, inW, outW));
  const out = new Uint8Array(b * outH * outW);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < outH; i++) {
      const from = (n * inH + rows[i]) * inW;
      const to = (n * outH + i) * outW;
      for (let j = 0; j < outW; j++) out[to + j] = src[from + cols[j]];
    }
  }
  return tf.tensor3d(out, [b, outH, outW], 'bool');
}

/**
 * (valid_w / W, valid_h / H) per image of a mask given as bytes [B,H,W]: valid_h counts unpadded rows
 * of column 0, valid_w unpadded columns of row 0 (padding is bottom/right). Float32 values, as torch
 * computes them (sum, then one float32 division).
 */
export function validRatiosOf(mask: Uint8Array, b: number, h: number, w: number): Float32Array {
  const out = new Float32Array(2 * b);
  for (let n = 0; n < b; n++) {
    let validH = 0;
    let validW = 0;
    for (let i = 0; i < h; i++) if (!mask[(n * h + i) * w]) validH++;
    for (let j = 0; j < w; j++) if (!mask[n * h * w + j]) validW++;
    out[2 * n] = Math.fround(validW / w);
    out[2 * n + 1] = Math.fround(validH / h);
  }
  return out;
}

/**
 * Valid ratios of one level's mask [B,H,W] -> [B,2] = (valid_W / W, valid_H / H), where valid_H counts
 * unpadded rows of column 0 and valid_W unpadded columns of row 0 (padding is bottom/right).
 */
export function getValidRatio(mask: tf.Tensor3D): tf.Tensor2D {
  const [b, h, w] = mask.shape;
  return tf.tensor2d(validRatiosOf(readMask(mask), b, h, w), [b, 2]);
}

/** Valid ratios of every level: masks L x [B,H_l,W_l] -> [B, L, 2] (w, h). */
export function getValidRatios(masks: tf.Tensor3D[]): tf.Tensor3D {
  if (masks.length === 0) throw new Error('getValidRatios: no masks');
  const b = masks[0].shape[0];
  const levels = masks.length;
  const out = new Float32Array(b * levels * 2);
  masks.forEach((m, l) => {
    const [mb, h, w] = m.shape;
    if (mb !== b) throw new Error(`getValidRatios: level ${l} mask has batch ${mb}, level 0 has ${b}`);
    const r = validRatiosOf(readMask(m), b, h, w);
    for (let n = 0; n < b; n++) out.set(r.subarray(2 * n, 2 * n + 2), (n * levels + l) * 2);
  });
  return tf.tensor3d(out, [b, levels, 2]);
}

/** [B,N] bool padding mask (true = padding) -> [B,N,1] float32: 1 where kept, 0 where padded. */
export function keepMask(paddingMask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.logicalNot(paddingMask.cast('bool')).cast('float32').expandDims(-1));
}
