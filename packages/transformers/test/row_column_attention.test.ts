// MultiheadRCDA (Anchor DETR `models/row_column_decoupled_attention.py`) against a float64 loop reference
// of the paper's formula, written with the full [Nq, H, W] weights the module never forms:
//   out[q] = sum_{h,w} softmax_H(q_col . mean_W k_col)[h] * softmax_W(q_row . mean_H k_row)[w] * v[h,w]
// with in_proj rows [q_row, q_col, k_row, k_col, v] (torch layout [5E, E]).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { MultiheadRCDA } from '../src/row_column_attention';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const E = 8;
const HEADS = 2;
const D = E / HEADS;

function softmax(logits: number[]): number[] {
  const mx = Math.max(...logits);
  const ex = logits.map((l) => (l === -Infinity ? 0 : Math.exp(l - mx)));
  const z = ex.reduce((a, b) => a + b, 0);
  return ex.map((e) => e / z);
}

interface Case {
  B: number;
  NQ: number;
  H: number;
  W: number;
  /** Valid (unpadded) [h, w] per image; padding is bottom / right. */
  valid: [number, number][];
}

function runCase(c: Case, seed: number) {
  const rng = new Rng(seed);
  const rcda = new MultiheadRCDA({ embed_dim: E, num_heads: HEADS });
  // Give the biases non-zero values so their slicing is tested too.
  rcda.getParameter('in_proj_bias').assign(tf.tensor1d(Array.from({ length: 5 * E }, () => rng.normal() * 0.5)));
  rcda.out_proj.getParameter('bias').assign(tf.tensor1d(Array.from({ length: E }, () => rng.normal() * 0.5)));
  const sd = rcda.stateDict('torch');
  const Win = Float64Array.from(sd.get('in_proj_weight')!.dataSync()); // [5E, E]
  const bIn = Float64Array.from(sd.get('in_proj_bias')!.dataSync());
  const Wout = Float64Array.from(sd.get('out_proj.weight')!.dataSync()); // [E, E]
  const bOut = Float64Array.from(sd.get('out_proj.bias')!.dataSync());
  expect(sd.get('in_proj_weight')!.shape).toEqual([5 * E, E]);
  for (const [k, t] of sd) if (k !== 'in_proj_bias' && k !== 'out_proj.bias') t.dispose();

  const { B, NQ, H, W } = c;
  const rand = (n: number) => Array.from({ length: n }, () => Math.fround(rng.normal()));
  const qRowIn = rand(B * NQ * E);
  const qColIn = rand(B * NQ * E);
  const kRowIn = rand(B * H * W * E);
  const kColIn = rand(B * H * W * E);
  const vIn = rand(B * H * W * E);
  const mask = Array.from({ length: B * H * W }, (_, i) => {
    const b = Math.floor(i / (H * W));
    const y = Math.floor((i % (H * W)) / W);
    const x = i % W;
    return y >= c.valid[b][0] || x >= c.valid[b][1] ? 1 : 0;
  });

  /** Block r of the in_proj applied to the E-vector at offset o of arr. */
  const proj = (block: number, arr: number[], o: number) =>
    Array.from({ length: E }, (_, r) => {
      let s = bIn[block * E + r];
      for (let i = 0; i < E; i++) s += Win[(block * E + r) * E + i] * arr[o + i];
      return s;
    });

  const ref: number[] = [];
  for (let b = 0; b < B; b++) {
    const kRow = Array.from({ length: H * W }, (_, p) => proj(2, kRowIn, (b * H * W + p) * E));
    const kCol = Array.from({ length: H * W }, (_, p) => proj(3, kColIn, (b * H * W + p) * E));
    const v = Array.from({ length: H * W }, (_, p) => proj(4, vIn, (b * H * W + p) * E));
    const kRowMean = Array.from({ length: W }, (_, x) => Array.from({ length: E }, (_, e) => kRow.filter((_, p) => p % W === x).reduce((s, r) => s + r[e], 0) / H));
    const kColMean = Array.from({ length: H }, (_, y) => Array.from({ length: E }, (_, e) => kCol.slice(y * W, (y + 1) * W).reduce((s, r) => s + r[e], 0) / W));
    for (let q = 0; q < NQ; q++) {
      const qr = proj(0, qRowIn, (b * NQ + q) * E);
      const qc = proj(1, qColIn, (b * NQ + q) * E);
      const merged: number[] = [];
      for (let h = 0; h < HEADS; h++) {
        const dot = (a: number[], k: number[]) => a.slice(h * D, (h + 1) * D).reduce((s, x, i) => s + x * k[h * D + i], 0) * D ** -0.5;
        // Official masks: first row of the mask blocks columns, first column blocks rows.
        const aRow = softmax(kRowMean.map((k, x) => (mask[b * H * W + x] ? -Infinity : dot(qr, k))));
        const aCol = softmax(kColMean.map((k, y) => (mask[b * H * W + y * W] ? -Infinity : dot(qc, k))));
        const out = new Array<number>(D).fill(0);
        for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let i = 0; i < D; i++) out[i] += aCol[y] * aRow[x] * v[y * W + x][h * D + i];
        merged.push(...out);
      }
      for (let o = 0; o < E; o++) {
        let s = bOut[o];
        for (let i = 0; i < E; i++) s += Wout[o * E + i] * merged[i];
        ref.push(s);
      }
    }
  }
  const out = tf.tidy(() =>
    rcda.forward({
      query_row: tf.tensor3d(qRowIn, [B, NQ, E]),
      query_col: tf.tensor3d(qColIn, [B, NQ, E]),
      key_row: tf.tensor4d(kRowIn, [B, H, W, E]),
      key_col: tf.tensor4d(kColIn, [B, H, W, E]),
      value: tf.tensor4d(vIn, [B, H, W, E]),
      key_padding_mask: tf.tensor3d(mask, [B, H, W], 'bool'),
    }),
  );
  expect(out.shape).toEqual([B, NQ, E]);
  expectClose(out, ref, RTOL.activation * 10, `RCDA B=${B} H=${H} W=${W}`);
  out.dispose();
  sd.get('in_proj_bias')!.dispose();
  sd.get('out_proj.bias')!.dispose();
  rcda.dispose();
}

describe('MultiheadRCDA', () => {
  it('matches the outer-product attention reference when H < W (W contracted first)', () => {
    runCase({ B: 2, NQ: 3, H: 3, W: 5, valid: [[3, 5], [2, 3]] }, 11);
  });

  it('matches the reference when H >= W (H contracted first)', () => {
    runCase({ B: 2, NQ: 4, H: 5, W: 3, valid: [[4, 3], [5, 2]] }, 12);
  });

  it('has the official parameter names and torch shapes, and checks its inputs', () => {
    const rcda = new MultiheadRCDA({ embed_dim: E, num_heads: HEADS });
    expect(Object.fromEntries(rcda.stateDictShapes('torch'))).toEqual({
      in_proj_weight: [5 * E, E],
      in_proj_bias: [5 * E],
      'out_proj.weight': [E, E],
      'out_proj.bias': [E],
    });
    const q = tf.zeros([1, 2, E]);
    const k = tf.zeros([1, 3, 4, E]);
    expect(() => rcda.forward({ query_row: q, query_col: q, key_row: k, key_col: k, value: tf.zeros([1, 4, 3, E]) })).toThrow(/value/);
    expect(() => rcda.forward({ query_row: q, query_col: q, key_row: k, key_col: k, value: k, key_padding_mask: tf.zeros([1, 4, 3], 'bool') })).toThrow(/key_padding_mask/);
    expect(() => new MultiheadRCDA({ embed_dim: E, num_heads: 3 })).toThrow(/num_heads/);
    rcda.dispose();
  });
});
