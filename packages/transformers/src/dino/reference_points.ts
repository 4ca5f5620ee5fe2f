/**
 * Reference points of the deformable encoder (detrex `DINOTransformer.get_reference_points`): the
 * centre of every token of every level, normalised by the valid part of its map, then scaled into
 * every level's valid region.
 */
import * as tf from '@tensorflow/tfjs';
import type { SpatialShapes } from '../ms_deform_attn_core';

/** spatial shapes, valid_ratios [B,L,2] (w, h) -> [B, S, L, 2] (x, y), S = sum of H*W. */
export function encoderReferencePoints(spatialShapes: SpatialShapes, validRatios: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, levels] = validRatios.shape;
    if (levels !== spatialShapes.length) throw new Error(`encoderReferencePoints: ${levels} valid ratios for ${spatialShapes.length} levels`);
    const perLevel = spatialShapes.map(([h, w], l) => {
      const ys = tf.range(0, h).add(0.5); // linspace(0.5, H - 0.5, H)
      const xs = tf.range(0, w).add(0.5);
      const refY = tf.broadcastTo(ys.reshape([1, h, 1]), [1, h, w]).reshape([1, h * w]); // [1, HW] row-major
      const refX = tf.broadcastTo(xs.reshape([1, 1, w]), [1, h, w]).reshape([1, h * w]);
      const ratioW = validRatios.slice([0, l, 0], [b, 1, 1]).reshape([b, 1]);
      const ratioH = validRatios.slice([0, l, 1], [b, 1, 1]).reshape([b, 1]);
      return tf.stack([refX.div(ratioW.mul(w)), refY.div(ratioH.mul(h))], -1); // [B, HW, 2]
    });
    const ref = tf.concat(perLevel, 1); // [B, S, 2]
    return ref.expandDims(2).mul(validRatios.expandDims(1)); // [B, S, L, 2]
  });
}
