/**
 * Reference points of the deformable encoder (detrex `DINOTransformer.get_reference_points`): the
 * centre of every token of every level, normalised by the valid part of its map, then scaled into
 * every level's valid region.
 *
 * A constant of the padding mask: computed in plain JS from the valid ratios with torch's float32 op
 * sequence (each step rounded with Math.fround), one tensor instead of ~15 small kernels per level.
 */
import * as tf from '@tensorflow/tfjs';
import type { SpatialShapes } from '../ms_deform_attn_core';

/** spatial shapes, valid ratios [B*L*2] (w, h) -> [B*S*L*2] (x, y), S = sum of H*W. */
export function referencePointsOf(spatialShapes: SpatialShapes, ratios: Float32Array | Uint8Array | Int32Array, b: number): Float32Array {
  const levels = spatialShapes.length;
  const s = spatialShapes.reduce((acc, [h, w]) => acc + h * w, 0);
  const out = new Float32Array(b * s * levels * 2);
  for (let n = 0; n < b; n++) {
    let token = 0;
    spatialShapes.forEach(([h, w], l) => {
      const ratioW = ratios[(n * levels + l) * 2];
      const ratioH = ratios[(n * levels + l) * 2 + 1];
      const denomX = Math.fround(ratioW * w);
      const denomY = Math.fround(ratioH * h);
      for (let i = 0; i < h; i++) {
        const refY = Math.fround(Math.fround(i + 0.5) / denomY); // linspace(0.5, H - 0.5, H) / (valid_H)
        for (let j = 0; j < w; j++, token++) {
          const refX = Math.fround(Math.fround(j + 0.5) / denomX);
          const at = (n * s + token) * levels * 2;
          for (let k = 0; k < levels; k++) {
            out[at + 2 * k] = Math.fround(refX * ratios[(n * levels + k) * 2]);
            out[at + 2 * k + 1] = Math.fround(refY * ratios[(n * levels + k) * 2 + 1]);
          }
        }
      }
    });
  }
  return out;
}

/** spatial shapes, valid_ratios [B,L,2] (w, h) -> [B, S, L, 2] (x, y), S = sum of H*W. */
export function encoderReferencePoints(spatialShapes: SpatialShapes, validRatios: tf.Tensor): tf.Tensor {
  const [b, levels] = validRatios.shape;
  if (levels !== spatialShapes.length) throw new Error(`encoderReferencePoints: ${levels} valid ratios for ${spatialShapes.length} levels`);
  const s = spatialShapes.reduce((acc, [h, w]) => acc + h * w, 0);
  return tf.tensor4d(referencePointsOf(spatialShapes, validRatios.dataSync() as Float32Array, b), [b, s, levels, 2]);
}
