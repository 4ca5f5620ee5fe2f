// ConditionalSelfAttention / ConditionalCrossAttention (detrex `detrex/layers/attention.py`) against
// float64 loop references written from the formulas: per-head softmax(q.k * scale) v, with the cross
// attention's per-head concatenation [content || position] and scale (2 * head_dim)^-0.5.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, type Module } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { ConditionalCrossAttention, ConditionalSelfAttention } from '../src/conditional_attention';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Mat = number[][]; // [N][C]

/** Torch-layout weights of a module: name -> {values, shape}. */
function torchWeights(m: Module): Map<string, { values: Float64Array; shape: number[] }> {
  const out = new Map<string, { values: Float64Array; shape: number[] }>();
  for (const [name, t] of m.stateDict('torch')) {
    out.set(name, { values: Float64Array.from(t.dataSync()), shape: [...t.shape] });
    t.dispose();
  }
  return out;
}

/** y = W x + b with W torch [out, in]; x [N][in] -> [N][out]. */
function linearRef(x: Mat, w: Map<string, { values: Float64Array; shape: number[] }>, prefix: string): Mat {
  const W = w.get(`${prefix}.weight`)!;
  const bias = w.get(`${prefix}.bias`)!.values;
  const [out, inp] = W.shape;
  return x.map((row) => {
    const y = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o++) {
      let s = bias[o];
      for (let i = 0; i < inp; i++) s += W.values[o * inp + i] * row[i];
      y[o] = s;
    }
    return y;
  });
}

const add = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((v, j) => v + b[i][j]));

/** Columns [h*d, (h+1)*d) of every row. */
const headOf = (x: Mat, h: number, d: number): Mat => x.map((r) => r.slice(h * d, (h + 1) * d));

/**
 * One head: out[i] = sum_j softmax_j(scale * q_i . k_j, blocked -> -inf) v_j.
 */
function attendRef(q: Mat, k: Mat, v: Mat, scale: number, blocked: (i: number, j: number) => boolean): Mat {
  return q.map((qi, i) => {
    const logits = k.map((kj, j) => (blocked(i, j) ? -Infinity : scale * qi.reduce((s, x, c) => s + x * kj[c], 0)));
    const mx = Math.max(...logits);
    const ex = logits.map((l) => (l === -Infinity ? 0 : Math.exp(l - mx)));
    const z = ex.reduce((a, b) => a + b, 0);
    const out = new Array<number>(v[0].length).fill(0);
    ex.forEach((e, j) => v[j].forEach((x, c) => (out[c] += (e / z) * x)));
    return out;
  });
}

function randomMat(rng: Rng, n: number, c: number): Mat {
  return Array.from({ length: n }, () => Array.from({ length: c }, () => rng.normal()));
}

function tensorOf(batch: Mat[]): tf.Tensor3D {
  return tf.tensor3d(batch.map((m) => m.map((r) => r.map(Math.fround))));
}

const E = 8;
const HEADS = 2;
const D = E / HEADS;

describe('ConditionalSelfAttention', () => {
  it('matches q = Wqc x + Wqp pos, k = Wkc x + Wkp pos, per-head softmax(q.k / sqrt(hd)) v, plus identity', () => {
    const rng = new Rng(1);
    const attn = new ConditionalSelfAttention({ embed_dim: E, num_heads: HEADS });
    const w = torchWeights(attn);
    const B = 2;
    const N = 5;
    const xs = Array.from({ length: B }, () => randomMat(rng, N, E));
    const pos = Array.from({ length: B }, () => randomMat(rng, N, E));
    // key_padding_mask: image 1 pads its last two tokens; attn_mask blocks (i, j) for j > i + 2.
    const kpm = [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]];
    const am = (i: number, j: number) => j > i + 2;
    const out = tf.tidy(() =>
      attn.forward(tensorOf(xs), {
        query_pos: tensorOf(pos),
        key_padding_mask: tf.tensor2d(kpm, [B, N], 'bool'),
        attn_mask: tf.tensor2d(Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => (am(i, j) ? 1 : 0))), [N, N], 'bool'),
      }),
    );
    const ref: number[] = [];
    for (let b = 0; b < B; b++) {
      const q = add(linearRef(xs[b], w, 'query_content_proj'), linearRef(pos[b], w, 'query_pos_proj'));
      const k = add(linearRef(xs[b], w, 'key_content_proj'), linearRef(pos[b], w, 'key_pos_proj'));
      const v = linearRef(xs[b], w, 'value_proj');
      const heads = Array.from({ length: HEADS }, (_, h) => attendRef(headOf(q, h, D), headOf(k, h, D), headOf(v, h, D), D ** -0.5, (i, j) => am(i, j) || kpm[b][j] === 1));
      const merged = Array.from({ length: N }, (_, i) => heads.flatMap((hm) => hm[i]));
      const y = add(linearRef(merged, w, 'out_proj'), xs[b]);
      ref.push(...y.flat());
    }
    expect(out.shape).toEqual([B, N, E]);
    expectClose(out, ref, RTOL.activation * 10, 'conditional self-attention');
    out.dispose();
    attn.dispose();
  });

  it('has detrex state-dict keys and rejects a missing query_pos', () => {
    const attn = new ConditionalSelfAttention({ embed_dim: E, num_heads: HEADS });
    expect([...attn.stateDictShapes('torch').keys()]).toEqual(
      ['query_content_proj', 'query_pos_proj', 'key_content_proj', 'key_pos_proj', 'value_proj', 'out_proj'].flatMap((n) => [`${n}.weight`, `${n}.bias`]),
    );
    const x = tf.zeros([1, 3, E]);
    expect(() => attn.forward(x)).toThrow(/query_pos and key_pos/);
    expect(() => new ConditionalSelfAttention({ embed_dim: 6, num_heads: 4 })).toThrow(/num_heads/);
    x.dispose();
    attn.dispose();
  });
});

describe('ConditionalCrossAttention', () => {
  const rng = new Rng(2);
  const B = 2;
  const NQ = 3;
  const NK = 6;
  const query = Array.from({ length: B }, () => randomMat(rng, NQ, E));
  const memory = Array.from({ length: B }, () => randomMat(rng, NK, E));
  const queryPos = Array.from({ length: B }, () => randomMat(rng, NQ, E));
  const keyPos = Array.from({ length: B }, () => randomMat(rng, NK, E));
  const sine = Array.from({ length: B }, () => randomMat(rng, NQ, E));

  /** The reference: heads see [content_h || position_h] of width 2 * hd, scale (2 * hd)^-0.5. */
  function reference(w: ReturnType<typeof torchWeights>, first: boolean, kpm: number[][] | null): number[] {
    const ref: number[] = [];
    for (let b = 0; b < B; b++) {
      const kPos = linearRef(keyPos[b], w, 'key_pos_proj');
      let qc = linearRef(query[b], w, 'query_content_proj');
      let kc = linearRef(memory[b], w, 'key_content_proj');
      if (first) {
        qc = add(qc, linearRef(queryPos[b], w, 'query_pos_proj'));
        kc = add(kc, kPos);
      }
      const qs = linearRef(sine[b], w, 'query_pos_sine_proj');
      const v = linearRef(memory[b], w, 'value_proj');
      const heads = Array.from({ length: HEADS }, (_, h) => {
        const q = headOf(qc, h, D).map((r, i) => [...r, ...headOf(qs, h, D)[i]]);
        const k = headOf(kc, h, D).map((r, j) => [...r, ...headOf(kPos, h, D)[j]]);
        return attendRef(q, k, headOf(v, h, D), (2 * D) ** -0.5, (_, j) => (kpm ? kpm[b][j] === 1 : false));
      });
      const merged = Array.from({ length: NQ }, (_, i) => heads.flatMap((hm) => hm[i]));
      ref.push(...add(linearRef(merged, w, 'out_proj'), query[b]).flat());
    }
    return ref;
  }

  for (const first of [true, false]) {
    it(`matches the per-head concatenation reference (is_first_layer=${first})`, () => {
      const attn = new ConditionalCrossAttention({ embed_dim: E, num_heads: HEADS });
      const w = torchWeights(attn);
      const kpm = [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]];
      const out = tf.tidy(() =>
        attn.forward(tensorOf(query), {
          key: tensorOf(memory),
          value: tensorOf(memory),
          query_pos: tensorOf(queryPos),
          key_pos: tensorOf(keyPos),
          query_sine_embed: tensorOf(sine),
          is_first_layer: first,
          key_padding_mask: tf.tensor2d(kpm, [B, NK], 'bool'),
        }),
      );
      expect(out.shape).toEqual([B, NQ, E]);
      expectClose(out, reference(w, first, kpm), RTOL.activation * 10, `conditional cross-attention (first=${first})`);
      // A sanity check that the reference can tell the two modes apart.
      expect(() => expectClose(out, reference(w, !first, kpm), RTOL.activation * 10, 'other mode')).toThrow();
      out.dispose();
      attn.dispose();
    });
  }

  it('drops query_pos_proj for later layers (detrex sets it to None) and then refuses is_first_layer', () => {
    const later = new ConditionalCrossAttention({ embed_dim: E, num_heads: HEADS, query_pos_proj: false });
    const keys = [...later.stateDictShapes('torch').keys()];
    expect(keys).toEqual(
      ['query_content_proj', 'query_pos_sine_proj', 'key_content_proj', 'key_pos_proj', 'value_proj', 'out_proj'].flatMap((n) => [`${n}.weight`, `${n}.bias`]),
    );
    const t = (n: number) => tf.zeros([1, n, E]);
    const args = { key: t(4), query_pos: t(2), key_pos: t(4), query_sine_embed: t(2) };
    expect(() => later.forward(t(2), { ...args, is_first_layer: true })).toThrow(/query_pos_proj/);
    expect(() => later.forward(t(2), { ...args, query_sine_embed: null })).toThrow(/query_sine_embed/);
    const ok = later.forward(t(2), args);
    expect(ok.shape).toEqual([1, 2, E]);
    later.dispose();
  });
});
