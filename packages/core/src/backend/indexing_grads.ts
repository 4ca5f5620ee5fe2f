/**
 * Gradients tfjs lacks for indexing kernels that DETR code uses:
 *  - GatherNd: dParams = scatterND(indices, dy, params.shape) (duplicates add up), as TensorFlow's
 *    `_GatherNdGrad` (tensorflow/python/ops/array_grad.py);
 *  - TopK: dx = dValues scattered to the selected positions of the last axis (TF's `_TopKGrad`,
 *    tensorflow/python/ops/nn_grad.py); the indices output has no gradient;
 *  - StridedSlice: dx = dy put back at the selected positions, zeros elsewhere (TF's
 *    `_StridedSliceGrad`), built per axis from reverse / zero-insertion / pad.
 * GatherNd and TopK use ScatterNd, which every backend (wasm included) implements.
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

interface StridedSliceAttrs {
  begin: number[];
  end: number[];
  strides: number[];
  beginMask: number;
  endMask: number;
  ellipsisMask: number;
  newAxisMask: number;
  shrinkAxisMask: number;
}

/** Places t (length n along `axis`) at positions start, start+step, ... of a length-`size` axis. */
function scatterAlongAxis(t: tf.Tensor, axis: number, start: number, step: number, size: number): tf.Tensor {
  const n = t.shape[axis];
  let u = t;
  if (step > 1) {
    const withPhase = [...t.shape.slice(0, axis + 1), 1, ...t.shape.slice(axis + 1)]; // [.., n, 1, ..]
    const pads: [number, number][] = withPhase.map(() => [0, 0]);
    pads[axis + 1] = [0, step - 1];
    const spread = [...t.shape];
    spread[axis] = n * step;
    u = tf.pad(t.reshape(withPhase), pads).reshape(spread); // [.., n·step, ..]
  }
  const len = u.shape[axis];
  const after = size - start - len; // may be negative: only inserted zeros are cut
  if (after < 0) {
    const sizes = [...u.shape];
    sizes[axis] = len + after;
    u = tf.slice(u, u.shape.map(() => 0), sizes);
  }
  const pads: [number, number][] = u.shape.map(() => [0, 0]);
  pads[axis] = [start, Math.max(0, after)];
  return tf.pad(u, pads);
}

export const stridedSliceGradOverride: GradientOverride = {
  kernelName: 'StridedSlice',
  backends: 'all',
  inputsToSave: ['x'],
  why: 'tfjs has no StridedSlice gradient; dy placed back at the sliced positions (TF _StridedSliceGrad)',
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as StridedSliceAttrs;
    return {
      x: () =>
        tf.tidy(() => {
          const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
          // Per input axis: first index, step, count (the shape before shrink/new axes).
          const counts = x.shape.map((dim, i) => {
            const len = info.end[i] - info.begin[i];
            const st = info.strides[i];
            if (len === 0 || len < 0 !== st < 0) return 0;
            return Math.trunc(len / st) + (len % st !== 0 ? 1 : 0);
          });
          if (counts.some((c) => c === 0)) return tf.zeros(x.shape, 'float32');
          let g: tf.Tensor = (dy as tf.Tensor).reshape(counts);
          for (let i = 0; i < x.rank; i++) {
            let start = info.begin[i];
            let step = info.strides[i];
            if (step < 0) {
              g = tf.reverse(g, [i]); // ascending positions begin + (n-1)·step, ..., begin
              start = info.begin[i] + (counts[i] - 1) * step;
              step = -step;
            }
            if (step === 1 && start === 0 && counts[i] === x.shape[i]) continue;
            g = scatterAlongAxis(g, i, start, step, x.shape[i]);
          }
          return g;
        }),
    };
  },
};
