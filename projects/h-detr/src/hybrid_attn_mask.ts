/**
 * H-DETR's decoder self-attention mask (detrex `projects/h_deformable_detr/modeling/h_deformable_detr.py`,
 * `HDeformableDETR.forward`, "attention mask to prevent information leakage"): [Q, Q] bool, true =
 * blocked, with the first `numOne2one` queries and the remaining one-to-many queries unable to see each
 * other in either direction; attention within each group is allowed.
 */
import * as tf from '@tensorflow/tfjs';

/** -> [numQueries, numQueries] bool: mask[i][j] = (i < numOne2one) != (j < numOne2one). */
export function hybridSelfAttnMask(numOne2one: number, numQueries: number): tf.Tensor2D {
  if (!Number.isInteger(numOne2one) || !Number.isInteger(numQueries) || numOne2one < 0 || numQueries < numOne2one || numQueries < 1) {
    throw new Error(`hybridSelfAttnMask: need integers 0 <= num_queries_one2one (${numOne2one}) <= num_queries (${numQueries}), num_queries >= 1`);
  }
  return tf.tidy(() => {
    const isOne2one = tf.range(0, numQueries, 1, 'int32').less(numOne2one).cast('int32'); // [Q] 1 = one-to-one
    return tf.notEqual(isOne2one.reshape([numQueries, 1]), isOne2one.reshape([1, numQueries])) as tf.Tensor2D; // [Q,Q]
  });
}
