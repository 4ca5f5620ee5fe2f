/**
 * activation_checkpoint on the ResNet (per trainable block): the same loss and the same gradients for
 * every trainable tensor as without, on cpu (DINO's encoder: packages/transformers/test).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng, installFastKernels, seedEverything, withBackend } from '@detr/core';
import { ResNet } from '../src/index';

type Grads = Record<string, Float32Array>;

function gradsOf(vars: { name: string; variable: tf.Variable }[], loss: () => tf.Scalar): { loss: number; grads: Grads } {
  const { value, grads } = tf.variableGrads(loss, vars.map((v) => v.variable));
  const out: Grads = {};
  for (const v of vars) out[v.name] = grads[v.variable.name].dataSync() as Float32Array;
  const l = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss: l, grads: out };
}

function expectSame(a: { loss: number; grads: Grads }, b: { loss: number; grads: Grads }): void {
  expect(b.loss).toBeCloseTo(a.loss, 5);
  expect(Object.keys(b.grads)).toEqual(Object.keys(a.grads));
  for (const [name, g] of Object.entries(a.grads)) {
    const h = b.grads[name];
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
    for (let i = 0; i < g.length; i++) expect(Math.abs(h[i] - g[i]) / scale, name).toBeLessThan(1e-4);
  }
}

describe('activation_checkpoint', () => {
  it('ResNet-18 (GN, res3 + res4 outputs): same loss and gradients as without', async () => {
    installFastKernels();
    await withBackend('cpu', () => {
      const build = (ckpt: boolean) => {
        seedEverything(5);
        return new ResNet({ depth: 18, out_features: ['res3', 'res4'], freeze_at: 1, norm: 'GN', stem_out_channels: 32, res2_out_channels: 32, activation_checkpoint: ckpt }).train();
      };
      const x = tf.tensor4d(new Rng(3).normalArray(32 * 32 * 3, 0, 1), [1, 32, 32, 3]);
      const run = (net: ResNet) =>
        gradsOf(net.trainableVariables(), () =>
          tf.tidy(() => {
            const f = net.forward(x);
            return f.res3.square().mean().add(f.res4.mean()) as tf.Scalar;
          }),
        );
      const plain = build(false);
      const ckpt = build(true);
      expectSame(run(plain), run(ckpt));
      plain.dispose();
      ckpt.dispose();
      x.dispose();
    });
  });
});
