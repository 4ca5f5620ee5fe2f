/**
 * activation_checkpoint on DINO's deformable encoder (per layer): the same loss and the same gradients
 * for every trainable tensor and the position input as without, on cpu; dropout is refused.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectSameLossAndGradients, lossAndGradients } from '@detr/core/testing';
import { Rng, installFastKernels, seedEverything, withBackend } from '@detr/core';
import { DINOTransformerEncoder } from '../src/index';

describe('activation_checkpoint', () => {
  it("DINO's encoder: same loss and gradients as without; refuses dropout", async () => {
    installFastKernels();
    await withBackend('cpu', () => {
      const opts = { embed_dim: 32, num_heads: 2, feedforward_dim: 64, attn_dropout: 0, ffn_dropout: 0, num_layers: 2, num_feature_levels: 2 };
      const build = (ckpt: boolean) => {
        seedEverything(9);
        return new DINOTransformerEncoder({ ...opts, activation_checkpoint: ckpt }).train();
      };
      const shapes: [number, number][] = [[4, 4], [2, 2]];
      const s = 20;
      const rng = new Rng(4);
      const query = tf.tensor3d(rng.normalArray(2 * s * 32, 0, 1), [2, s, 32]);
      const pos = tf.variable(tf.tensor3d(rng.normalArray(2 * s * 32, 0, 0.5), [2, s, 32]));
      const ref = tf.tensor4d(Float32Array.from({ length: 2 * s * 2 * 2 }, () => 0.1 + 0.8 * rng.uniform(0, 1)), [2, s, 2, 2]);
      const mask = tf.zeros([2, s], 'bool');
      const run = (enc: DINOTransformerEncoder) =>
        lossAndGradients([...enc.trainableVariables(), { name: 'query_pos', variable: pos }], () =>
          tf.tidy(() => enc.forward(query, { query_pos: pos, query_key_padding_mask: mask, reference_points: ref, spatial_shapes: shapes }).square().mean() as tf.Scalar),
        );
      const plain = build(false);
      const ckpt = build(true);
      expectSameLossAndGradients(run(plain), run(ckpt), { lossDigits: 5, rtol: 1e-4 });
      expect(() => new DINOTransformerEncoder({ ...opts, ffn_dropout: 0.1, activation_checkpoint: true })).toThrow(/activation_checkpoint needs attn_dropout = ffn_dropout = 0/);
      tf.dispose([query, pos, ref, mask]);
      plain.dispose();
      ckpt.dispose();
    });
  });
});
