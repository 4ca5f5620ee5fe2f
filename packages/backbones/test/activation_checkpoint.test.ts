/**
 * activation_checkpoint on the ResNet (per trainable block): the same loss and the same gradients for
 * every trainable tensor as without, on cpu (DINO's encoder: packages/transformers/test).
 */
import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { expectSameLossAndGradients, lossAndGradients } from '@detr/core/testing';
import { Rng, installFastKernels, seedEverything, withBackend } from '@detr/core';
import { ResNet } from '../src/index';

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
        lossAndGradients(net.trainableVariables(), () =>
          tf.tidy(() => {
            const f = net.forward(x);
            return f.res3.square().mean().add(f.res4.mean()) as tf.Scalar;
          }),
        );
      const plain = build(false);
      const ckpt = build(true);
      expectSameLossAndGradients(run(plain), run(ckpt), { lossDigits: 5, rtol: 1e-4 });
      plain.dispose();
      ckpt.dispose();
      x.dispose();
    });
  });
});
