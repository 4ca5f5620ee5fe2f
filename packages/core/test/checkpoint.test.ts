/**
 * ops/checkpoint.ts: the same values and gradients (inputs and parameters) as running the segment on the
 * tape, fewer tensors kept through the backward pass, and the outer backward pass and a second one work
 * (the nested gradient must give the outer tape back).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkpoint, installFastKernels, withBackend } from '../src/index';

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

describe('checkpoint', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: gradients of input and parameters equal the plain segment's; fewer tensors kept; repeatable`, async () => {
      installFastKernels();
      await withBackend(backend, () => {
        const w1 = tf.variable(tf.tensor2d(seeded(6 * 8, 1), [6, 8]));
        const w2 = tf.variable(tf.tensor2d(seeded(8 * 6, 2), [8, 6]));
        // A segment of several ops, each saving tensors on the tape; c is a constant made inside the
        // forward pass (so disposed when it ends: it must reach the recomputation as a saved constant).
        const segment = (x: tf.Tensor, c: tf.Tensor) => tf.tanh(tf.relu(x.matMul(w1)).matMul(w2)).mul(c).add(x);
        const x0 = tf.tensor2d(seeded(5 * 6, 4), [5, 6]);
        const run = (useCheckpoint: boolean) => {
          let liveAtProbe = -1;
          const forward = (x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => ((liveAtProbe = tf.memory().numTensors), dy.clone()) });
          const probe = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
          const { value, grads } = tf.variableGrads(() => {
            // The probe sits on a path to w1 (zero contribution) so backprop reaches it last.
            let h = probe(x0.add(w1.sum().mul(0))) as tf.Tensor;
            const c = tf.tensor1d(seeded(6, 3));
            for (let i = 0; i < 3; i++) h = useCheckpoint ? checkpoint(segment, [h], [w1, w2], [c]) : segment(h, c);
            return h.square().sum() as tf.Scalar;
          }, [w1, w2]);
          const out = { loss: value.dataSync()[0], g1: grads[w1.name].dataSync(), g2: grads[w2.name].dataSync(), liveAtProbe };
          tf.dispose([value, ...Object.values(grads)]);
          return out;
        };
        const plain = run(false);
        const ckpt = run(true);
        const again = run(true);
        expect(ckpt.loss).toBeCloseTo(plain.loss, 5);
        for (const key of ['g1', 'g2'] as const) {
          const [p, c, a] = [plain[key], ckpt[key], again[key]];
          for (let i = 0; i < p.length; i++) {
            expect(c[i]).toBeCloseTo(p[i], 4);
            expect(a[i]).toBe(c[i]);
          }
        }
        expect(ckpt.liveAtProbe).toBeLessThan(plain.liveAtProbe);
        tf.dispose([w1, w2, x0]);
      }, backend === 'wasm' ? { threads: 1 } : {});
    });
  }
});
