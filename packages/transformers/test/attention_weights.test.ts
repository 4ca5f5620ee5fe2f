/**
 * attentionWeights (softmax(a bᵀ + bias) with a hand-written gradient): forward against a float64
 * reference, gradients against central finite differences of that reference, and the same numbers as
 * the plain tfjs ops on cpu and wasm; masked keys get weight 0 and no gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withBackend } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { attentionWeights, maskBias } from '../src/index';

const [B, H, NQ, NK, D] = [2, 2, 3, 4, 3];

function rand(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Float64 softmax(a bᵀ + bias) with a [B*H,NQ,D], b [B*H,NK,D], bias [B,1,NQ,NK] (or none). */
function ref64(a: Float64Array, b: Float64Array, bias: Float64Array | null): Float64Array {
  const out = new Float64Array(B * H * NQ * NK);
  for (let n = 0; n < B * H; n++) {
    const batch = Math.floor(n / H);
    for (let i = 0; i < NQ; i++) {
      const row = new Float64Array(NK);
      for (let j = 0; j < NK; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += a[(n * NQ + i) * D + d] * b[(n * NK + j) * D + d];
        row[j] = s + (bias ? bias[(batch * NQ + i) * NK + j] : 0);
      }
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const z = e.reduce((p, v) => p + v, 0);
      for (let j = 0; j < NK; j++) out[(n * NQ + i) * NK + j] = e[j] / z;
    }
  }
  return out;
}

const rnd = rand(7);
const a = Float64Array.from({ length: B * H * NQ * D }, () => rnd());
const b = Float64Array.from({ length: B * H * NK * D }, () => rnd());
const up = Float64Array.from({ length: B * H * NQ * NK }, () => rnd());
// Key padding: the last key of batch 1 is padding; a finite float bias elsewhere.
const padding = [[false, false, false, false], [false, false, false, true]];
const floatBias = Float64Array.from({ length: B * NQ * NK }, () => 0.5 * rnd());

describe('attentionWeights', () => {
  for (const withBias of [false, true]) {
    it(`${withBias ? 'with a float bias' : 'no bias'}: forward vs float64, gradients vs finite differences (cpu)`, async () => {
      await withBackend('cpu', () => {
        const bias = withBias ? floatBias : null;
        const objective = (x: Float64Array, y: Float64Array) => ref64(x, y, bias).reduce((s, v, i) => s + v * up[i], 0);
        const ta = tf.tensor3d(Float32Array.from(a), [B * H, NQ, D]);
        const tb = tf.tensor3d(Float32Array.from(b), [B * H, NK, D]);
        const tbias = bias ? tf.tensor4d(Float32Array.from(bias), [B, 1, NQ, NK]) : null;
        const tu = tf.tensor3d(Float32Array.from(up), [B * H, NQ, NK]);
        expectClose(attentionWeights(ta, tb, tbias, B, H), ref64(a, b, bias), RTOL.activation, 'forward');
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => attentionWeights(x as tf.Tensor3D, y as tf.Tensor3D, tbias, B, H).mul(tu).sum())([ta, tb]);
        const fd = (arr: Float64Array, first: boolean) =>
          Float64Array.from(arr, (v, i) => {
            const eps = 1e-6;
            const p = arr.slice(); p[i] = v + eps;
            const m = arr.slice(); m[i] = v - eps;
            return first ? (objective(p, b) - objective(m, b)) / (2 * eps) : (objective(a, p) - objective(a, m)) / (2 * eps);
          });
        expectClose(ga, fd(a, true), RTOL.grad, 'd a vs finite differences');
        expectClose(gb, fd(b, false), RTOL.grad, 'd b vs finite differences');
      });
    });
  }

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: same weights and gradients as the plain ops, padded keys get weight 0 and no gradient`, async () => {
      await withBackend(backend, () => {
        const ta = tf.tensor3d(Float32Array.from(a), [B * H, NQ, D]);
        const tb = tf.tensor3d(Float32Array.from(b), [B * H, NK, D]);
        const tu = tf.tensor3d(Float32Array.from(up), [B * H, NQ, NK]);
        const bias = maskBias(null, tf.tensor2d(padding, [B, NK], 'bool'), B, NQ, NK, 'test', 'block') as tf.Tensor;
        const plain = (x: tf.Tensor, y: tf.Tensor) => tf.softmax(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, true).reshape([B, H, NQ, NK]).add(bias).reshape([B * H, NQ, NK]), -1);
        const fused = (x: tf.Tensor, y: tf.Tensor) => attentionWeights(x as tf.Tensor3D, y as tf.Tensor3D, bias, B, H);
        const w = fused(ta, tb);
        expectClose(w, plain(ta, tb), RTOL.activation, 'weights vs plain ops');
        const wv = w.arraySync() as number[][][];
        for (let h = 0; h < H; h++) for (let i = 0; i < NQ; i++) expect(wv[H + h][i][NK - 1]).toBe(0);
        const gf = tf.grads((x: tf.Tensor, y: tf.Tensor) => fused(x, y).mul(tu).sum())([ta, tb]);
        const gp = tf.grads((x: tf.Tensor, y: tf.Tensor) => plain(x, y).mul(tu).sum())([ta, tb]);
        expectClose(gf[0], gp[0], RTOL.grad, 'd a vs plain ops');
        expectClose(gf[1], gp[1], RTOL.grad, 'd b vs plain ops');
        const gbv = gf[1].arraySync() as number[][][];
        for (let h = 0; h < H; h++) expect(gbv[H + h][NK - 1].every((v) => v === 0)).toBe(true); // the padded key
      }, backend === 'wasm' ? { threads: 1 } : {});
    });
  }

  it('its backward frees its temporaries at once: no more tensors live afterwards than with the plain ops', async () => {
    await withBackend('cpu', () => {
      const live = (weights: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): number => {
        let atProbe = -1;
        const forward = (x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => ((atProbe = tf.memory().numTensors), dy.clone()) });
        const probe = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
        const ta = tf.tensor3d(Float32Array.from(a), [B * H, NQ, D]);
        const tb = tf.tensor3d(Float32Array.from(b), [B * H, NK, D]);
        const tu = tf.tensor3d(Float32Array.from(up), [B * H, NQ, NK]);
        const g = tf.grad((x: tf.Tensor) => weights(probe(x) as tf.Tensor, tb).mul(tu).sum())(ta);
        tf.dispose([ta, tb, tu, g]);
        return atProbe;
      };
      const fused = live((x, y) => attentionWeights(x as tf.Tensor3D, y as tf.Tensor3D, null, B, H));
      const plain = live((x, y) => tf.softmax(tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, true), -1));
      expect(fused).toBeLessThanOrEqual(plain);
    });
  });

  it('rejects a bias of the wrong shape, naming the expected one', () => {
    const x = tf.zeros([B * H, NQ, D]) as tf.Tensor3D;
    const y = tf.zeros([B * H, NK, D]) as tf.Tensor3D;
    expect(() => attentionWeights(x, y, tf.zeros([B, H, NQ, NK + 1]), B, H)).toThrow(/bias must be \[1\|2, 1\|2, 1\|3, 4\], got \[2,2,3,5\]/);
  });
});
