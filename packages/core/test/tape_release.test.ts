/**
 * tape_release.ts: a node's saved tensors are freed once backprop is done with it, so fewer tensors are
 * live late in the backward pass; gradients are unchanged. The Relu gradient from its output
 * (relu_grad.ts) equals tfjs's from its input.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { installFastKernels, setTapeReleaseEnabled, withBackend } from '../src/backend/index';

/** x -> 12 x sigmoid(x * 1.1) -> sum, with a probe first in the chain recording the live tensors when its gradient runs (last). */
function run(): { grad: Float32Array; liveAtProbe: number } {
  let liveAtProbe = -1;
  const forward = (x: tf.Tensor) => ({
    value: x.clone(),
    gradFunc: (dy: tf.Tensor) => {
      liveAtProbe = tf.memory().numTensors;
      return dy.clone();
    },
  });
  const probe = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  const x = tf.tensor1d([0.3, -1.2, 2.5, 0.01]);
  const g = tf.grad((v: tf.Tensor) => {
    let h = probe(v) as tf.Tensor;
    for (let i = 0; i < 12; i++) h = tf.sigmoid(h.mul(1.1));
    return h.sum();
  })(x);
  const grad = g.dataSync() as Float32Array;
  tf.dispose([x, g]);
  return { grad, liveAtProbe };
}

describe('early release of saved tensors', () => {
  it('frees each node\'s saved tensors during backprop (at least one per op of the chain fewer live at the end), same gradient', async () => {
    installFastKernels();
    await withBackend('cpu', () => {
      const prev = setTapeReleaseEnabled(false);
      const kept = run();
      setTapeReleaseEnabled(true);
      const released = run();
      setTapeReleaseEnabled(prev);
      expect(Array.from(released.grad)).toEqual(Array.from(kept.grad));
      // 12 sigmoids (each saves its output) and 12 muls (each saves its inputs).
      expect(kept.liveAtProbe - released.liveAtProbe).toBeGreaterThanOrEqual(12);
      expect(tf.memory().numTensors).toBeLessThan(kept.liveAtProbe); // and nothing leaks after
    });
  });

  it('Relu: the gradient from the output equals dy * step(x), on cpu and wasm', async () => {
    installFastKernels();
    for (const backend of ['cpu', 'wasm'] as const) {
      await withBackend(backend, () => {
        const x = tf.tensor1d([-2, -0.5, 0, 1e-7, 0.5, 3]);
        const dy = tf.tensor1d([1, 2, 3, 4, 5, 6]);
        const g = tf.grad((v: tf.Tensor) => tf.relu(v).mul(dy).sum())(x);
        expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 4, 5, 6]);
        tf.dispose([x, dy, g]);
      }, backend === 'wasm' ? { threads: 1 } : {});
    }
  });
});
