/**
 * Gradient of BatchMatMul (every tf.matMul). tfjs-core's gradient (gradients/BatchMatMul_grad.ts)
 * computes dA = dy·Bᵀ and dB = Aᵀ·dy with transpose flags, which tfjs-wasm's own kernel runs in a
 * scalar loop (transposeA ~60x, transposeB ~15x slower than the XNNPACK product, PERF-NOTES), and it
 * does not reduce over broadcast batch dimensions (so x[B,N,C]·W[C,O] cannot be differentiated).
 * Here the same products go through ops/matmul's `matMul` (flag-free on wasm when detr-ts's wasm
 * BatchMatMul kernel is not installed) and broadcast batch dimensions are summed.
 */
import * as tf from '@tensorflow/tfjs';
import { matMul } from '../ops/matmul';
import type { GradientOverride } from './gradient_override';

/** Sums g [...lead, r, c] over the batch axes that `shape` broadcasts, then reshapes to `shape`. */
export function reduceToShape(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.util.arraysEqual(g.shape, shape)) return g;
  const offset = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank - 2; i++) {
    const target = i - offset >= 0 ? shape[i - offset] : 1;
    if (target === 1 && g.shape[i] !== 1) axes.push(i);
    else if (i - offset < 0) axes.push(i);
  }
  const summed = axes.length ? tf.sum(g, axes, true) : g;
  return summed.reshape(shape);
}

export const batchMatMulGradOverride: GradientOverride = {
  kernelName: 'BatchMatMul',
  // On other backends ops/matmul is tf.matMul with the flags (the upstream products); the override
  // still adds the broadcast reduction there.
  backends: 'all',
  inputsToSave: ['a', 'b'],
  why:
    "tfjs's gradient does not sum over broadcast batch dims (x[B,N,C]·W[C,O] fails) and uses transpose flags, which " +
    "tfjs-wasm's own kernel runs 13-95x slower; products via ops/matmul (flag-free where needed) and the broadcast sum",
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const g = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    // Same products as tfjs-core gradients/BatchMatMul_grad.ts, per flag combination.
    let da: () => tf.Tensor;
    let db: () => tf.Tensor;
    if (!transposeA && !transposeB) {
      da = () => matMul(g, b, { transposeB: true });
      db = () => matMul(a, g, { transposeA: true });
    } else if (!transposeA && transposeB) {
      da = () => matMul(g, b);
      db = () => matMul(g, a, { transposeA: true });
    } else if (transposeA && !transposeB) {
      da = () => matMul(b, g, { transposeB: true });
      db = () => matMul(a, g);
    } else {
      da = () => matMul(b, g, { transposeA: true, transposeB: true });
      db = () => matMul(g, a, { transposeA: true, transposeB: true });
    }
    return {
      a: () => reduceToShape(da(), a.shape),
      b: () => reduceToShape(db(), b.shape),
    };
  },
};
