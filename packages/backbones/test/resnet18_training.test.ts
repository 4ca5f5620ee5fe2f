/**
 * A small ResNet-18 (FrozenBN from scratch: identity affine, no batch statistics; stem frozen as in
 * detrex's freeze_at=1) trains on the wasm backend with core's fast kernels: every trainable tensor
 * gets a finite, non-zero gradient, the frozen stem gets none, and a few Adam steps fit a tiny
 * two-class problem (the loss falls well below its start).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Linear, Rng, initWasmBackend, installFastKernels } from '@detr/core';
import { ResNet } from '../src/index';

beforeAll(async () => {
  await initWasmBackend({ threads: 1 });
  installFastKernels();
});

afterAll(() => {
  tf.removeBackend('wasm'); // ends the wasm worker threads
});

/** n images [n,32,32,3]: class 0 has a bright 8x8 patch top-left, class 1 bottom-right; N(0, 0.5) noise. */
function toyBatch(n: number, rng: Rng): { images: tf.Tensor4D; labels: tf.Tensor2D } {
  const data = rng.normalArray(n * 32 * 32 * 3, 0, 0.5);
  const labels = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    labels[i * 2 + cls] = 1;
    const off = cls === 0 ? 4 : 20;
    for (let y = off; y < off + 8; y++) for (let x = off; x < off + 8; x++) for (let c = 0; c < 3; c++) data[((i * 32 + y) * 32 + x) * 3 + c] += 2;
  }
  return { images: tf.tensor4d(data, [n, 32, 32, 3]), labels: tf.tensor2d(labels, [n, 2]) };
}

describe('ResNet-18 training (wasm)', () => {
  it('gradients reach every trainable tensor and Adam steps reduce the loss', () => {
    const rng = new Rng(2024);
    const backbone = new ResNet({ depth: 18, out_features: ['res5'], freeze_at: 1 });
    const head = new Linear(512, 2, {});
    const { images, labels } = toyBatch(4, rng);
    const vars = [...backbone.trainableVariables(), ...head.trainableVariables()].map((v) => v.variable);
    expect(vars.length).toBe(19 + 2); // 20 convs minus the frozen stem, + head weight / bias
    const loss = () =>
      tf.tidy(() => {
        const res5 = backbone.forward(images).res5; // [4,1,1,512]
        const logits = head.forward(res5.mean([1, 2]));
        return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
      });

    const first = tf.variableGrads(loss, [...vars, backbone.stem.conv1.weight]);
    expect(Object.keys(first.grads)).not.toContain(backbone.stem.conv1.weight.name);
    for (const v of vars) {
      const g = first.grads[v.name];
      expect(g, v.name).toBeDefined();
      const [finite, norm] = tf.tidy(() => [g.isFinite().all().dataSync()[0], g.norm().dataSync()[0]]);
      expect(finite, v.name).toBe(1);
      expect(norm, v.name).toBeGreaterThan(0);
    }
    const start = first.value.dataSync()[0];
    const optimizer = tf.train.adam(1e-3);
    optimizer.applyGradients(Object.entries(first.grads).map(([name, tensor]) => ({ name, tensor }))); // step 1 reuses the checked gradients
    tf.dispose([first.value, ...Object.values(first.grads)]);
    for (let step = 1; step < 5; step++) optimizer.minimize(loss, false, vars);
    const end = tf.tidy(() => loss().dataSync()[0]);
    expect(Number.isFinite(end)).toBe(true);
    expect(end).toBeLessThan(0.5 * start);
    optimizer.dispose();
    tf.dispose([images, labels]);
    backbone.dispose();
    head.dispose();
  });
});
