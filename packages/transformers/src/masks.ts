/**
 * Padding masks per feature level (detrex DINO.forward: `F.interpolate(mask[None].float(), size).bool()`)
 * and valid ratios (detrex `DINOTransformer.get_valid_ratio`). Masks are [B,H,W] bool, true = padding.
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

/** mask [B,H,W] (bool) -> [B,h,w] bool, nearest-neighbour down/up-sampling as F.interpolate(mode='nearest'). */
export function interpolateMaskNearest(mask: tf.Tensor3D, size: [number, number]): tf.Tensor3D {
  if (mask.rank !== 3) throw new Error(`interpolateMaskNearest: mask must be [B,H,W], got shape [${mask.shape}]`);
  const [, inH, inW] = mask.shape;
  const [outH, outW] = size;
  if (!(outH > 0 && outW > 0)) throw new Error(`interpolateMaskNearest: bad output size [${size}]`);
  return tf.tidy(() => {
    const rows = Int32Array.from({ length: outH }, (_, i) => nearestSourceIndex(i, inH, outH));
    const cols = Int32Array.from({ length: outW }, (_, j) => nearestSourceIndex(j, inW, outW));
    const asInt = mask.cast('int32');
    const picked = tf.gather(tf.gather(asInt, tf.tensor1d(rows, 'int32'), 1), tf.tensor1d(cols, 'int32'), 2);
    return picked.cast('bool') as tf.Tensor3D;
  });
}

/**
 * Valid ratios of one level's mask [B,H,W] -> [B,2] = (valid_W / W, valid_H / H), where valid_H counts
 * unpadded rows of column 0 and valid_W unpadded columns of row 0 (padding is bottom/right).
 */
export function getValidRatio(mask: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, h, w] = mask.shape;
    const valid = tf.logicalNot(mask.cast('bool')).cast('float32'); // [B,H,W]
    const validH = valid.slice([0, 0, 0], [b, h, 1]).sum([1, 2]); // [B]
    const validW = valid.slice([0, 0, 0], [b, 1, w]).sum([1, 2]); // [B]
    return tf.stack([validW.div(w), validH.div(h)], -1) as tf.Tensor2D; // [B,2]
  });
}

/** Valid ratios of every level: masks L x [B,H_l,W_l] -> [B, L, 2] (w, h). */
export function getValidRatios(masks: tf.Tensor3D[]): tf.Tensor3D {
  return tf.tidy(() => tf.stack(masks.map((m) => getValidRatio(m)), 1) as tf.Tensor3D);
}
