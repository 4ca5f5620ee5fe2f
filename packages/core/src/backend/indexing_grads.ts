/**
 * Gradients tfjs lacks for indexing kernels that DETR code uses:
 *  - GatherNd: dParams = scatterND(indices, dy, params.shape) (duplicates add up), as TensorFlow's
 *    `_GatherNdGrad` (tensorflow/python/ops/array_grad.py);
 *  - TopK: dx = dValues scattered to the selected positions of the last axis (TF's `_TopKGrad`,
 *    tensorflow/python/ops/nn_grad.py); the indices output has no gradient.
 * Both use ScatterNd, which every backend (wasm included) implements.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientOverride } from './gradient_override';

export const gatherNdGradOverride: GradientOverride = {
  kernelName: 'GatherNd',
  backends: 'all',
  inputsToSave: ['params', 'indices'],
  why: 'tfjs has no GatherNd gradient; scatterND of dy (TF _GatherNdGrad)',
  gradFunc: (dy, saved) => {
    const [params, indices] = saved;
    return {
      params: () => tf.scatterND(indices, dy as tf.Tensor, params.shape),
      indices: () => tf.zeros(indices.shape, 'float32'),
    };
  },
};

export const topKGradOverride: GradientOverride = {
  kernelName: 'TopK',
  backends: 'all',
  inputsToSave: ['x'],
  outputsToSave: [false, true],
  why: 'tfjs has no TopK gradient; dValues scattered to the chosen positions (TF _TopKGrad)',
  gradFunc: (dys, saved) => {
    const [x, indices] = saved;
    const dValues = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    return {
      x: () =>
        tf.tidy(() => {
          const n = x.shape[x.rank - 1];
          const k = indices.shape[indices.rank - 1];
          const rows = indices.size / Math.max(k, 1);
          const rowStart = tf.range(0, rows * n, n, 'int32').reshape([rows, 1]); // [rows, 1]
          const flatIdx = indices.reshape([rows, k]).add(rowStart).reshape([rows * k, 1]); // [rows·k, 1]
          const flat = tf.scatterND(flatIdx, dValues.reshape([rows * k]), [rows * n]);
          return flat.reshape(x.shape);
        }),
    };
  },
};
