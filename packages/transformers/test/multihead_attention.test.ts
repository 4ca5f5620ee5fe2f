// detrex MultiheadAttention (torch.nn.MultiheadAttention inside) against an independent float64
// implementation of torch's formulas: packed in_proj, scaling 1/sqrt(head_dim), bool attn_mask and
// key_padding_mask (true = blocked), pos added to query and key only, residual inside; plus the
// torch-layout state dict of the packed projection and the gradient path.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose } from '@detr/core/testing';
import { MultiheadAttention } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

let seed = 99;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const randArray = (n: number) => Float64Array.from({ length: n }, rand);

/** torch.nn.MultiheadAttention (batch_first) in float64 with [out, in] weights. */
function mhaRef(
  q: Float64Array, k: Float64Array, v: Float64Array, b: number, nq: number, nk: number, e: number, heads: number,
  inW: Float64Array, inB: Float64Array, outW: Float64Array, outB: Float64Array,
  attnMask: Uint8Array | null, kpm: Uint8Array | null,
): Float64Array {
  const hd = e / heads;
  const proj = (x: Float64Array, n: number, part: number) => {
    const out = new Float64Array(b * n * e);
    for (let r = 0; r < b * n; r++) for (let o = 0; o < e; o++) {
      let s = inB[part * e + o];
      for (let i = 0; i < e; i++) s += x[r * e + i] * inW[(part * e + o) * e + i];
      out[r * e + o] = s;
    }
    return out;
  };
  const Q = proj(q, nq, 0), K = proj(k, nk, 1), V = proj(v, nk, 2);
  const ctx = new Float64Array(b * nq * e);
  for (let bi = 0; bi < b; bi++) for (let h = 0; h < heads; h++) for (let i = 0; i < nq; i++) {
    const logits: number[] = [];
    for (let j = 0; j < nk; j++) {
      let s = 0;
      for (let c = 0; c < hd; c++) s += Q[(bi * nq + i) * e + h * hd + c] * K[(bi * nk + j) * e + h * hd + c];
      const blocked = (attnMask && attnMask[i * nk + j]) || (kpm && kpm[bi * nk + j]);
      logits.push(blocked ? -Infinity : s / Math.sqrt(hd));
    }
    const m = Math.max(...logits);
    const ex = logits.map((l) => Math.exp(l - m));
    const z = ex.reduce((a, c) => a + c, 0);
    for (let c = 0; c < hd; c++) {
      let s = 0;
      for (let j = 0; j < nk; j++) s += (ex[j] / z) * V[(bi * nk + j) * e + h * hd + c];
      ctx[(bi * nq + i) * e + h * hd + c] = s;
    }
  }
  const out = new Float64Array(b * nq * e);
  for (let r = 0; r < b * nq; r++) for (let o = 0; o < e; o++) {
    let s = outB[o];
    for (let i = 0; i < e; i++) s += ctx[r * e + i] * outW[o * e + i];
    out[r * e + o] = s;
  }
  return out;
}

describe('MultiheadAttention', () => {
  it('matches torch semantics: pos on q and k (not v), masks true = blocked, residual = query', () => {
    const [b, nq, nk, e, heads] = [2, 5, 7, 8, 2];
    const m = new MultiheadAttention({ embed_dim: e, num_heads: heads, batch_first: true });
    const inW = randArray(3 * e * e), inB = randArray(3 * e), outW = randArray(e * e), outB = randArray(e);
    const f32 = (a: Float64Array, shape: number[]) => tf.tensor(Float32Array.from(a), shape);
    const sd = new Map([
      ['attn.in_proj_weight', f32(inW, [3 * e, e])],
      ['attn.in_proj_bias', f32(inB, [3 * e])],
      ['attn.out_proj.weight', f32(outW, [e, e])],
      ['attn.out_proj.bias', f32(outB, [e])],
    ]);
    m.loadStateDict(sd, { layout: 'torch', strict: true });
    // The packed projection is stored [E, 3E] here and exported back as torch's [3E, E].
    expect(m.stateDictShapes('native').get('attn.in_proj_weight')).toEqual([e, 3 * e]);
    expectClose(m.stateDict('torch').get('attn.in_proj_weight')!, sd.get('attn.in_proj_weight')!, 0, 'in_proj_weight round trip');

    const query = randArray(b * nq * e), qpos = randArray(b * nq * e), key = randArray(b * nk * e), kpos = randArray(b * nk * e), value = randArray(b * nk * e);
    const attnMask = Uint8Array.from({ length: nq * nk }, (_, i) => (i % nk) === (Math.floor(i / nk) % nk) ? 0 : Number(rand() > 0.6));
    const kpm = Uint8Array.from({ length: b * nk }, (_, i) => Number(i % nk === nk - 1 && i >= nk)); // last key of image 1 padded
    const add = (a: Float64Array, c: Float64Array) => a.map((x, i) => x + c[i]);
    const expected = mhaRef(add(query, qpos), add(key, kpos), value, b, nq, nk, e, heads, inW, inB, outW, outB, attnMask, kpm).map((x, i) => x + query[i]);

    const out = m.forward(f32(query, [b, nq, e]), {
      key: f32(key, [b, nk, e]),
      value: f32(value, [b, nk, e]),
      query_pos: f32(qpos, [b, nq, e]),
      key_pos: f32(kpos, [b, nk, e]),
      attn_mask: tf.tensor(attnMask, [nq, nk], 'bool'),
      key_padding_mask: tf.tensor(kpm, [b, nk], 'bool'),
    });
    expectClose(out, expected, RTOL.activation, 'MultiheadAttention output');

    // Self-attention defaults: key = value = query, key_pos = query_pos; identity can be overridden.
    const selfExpected = mhaRef(add(query, qpos), add(query, qpos), query, b, nq, nq, e, heads, inW, inB, outW, outB, null, null);
    const selfOut = m.forward(f32(query, [b, nq, e]), { query_pos: f32(qpos, [b, nq, e]), identity: tf.zeros([b, nq, e]) });
    expectClose(selfOut, selfExpected, RTOL.activation, 'self-attention with zero identity');
    m.dispose();
  });

  it('rejects a mask of the wrong shape', () => {
    const m = new MultiheadAttention({ embed_dim: 4, num_heads: 2 });
    const x = tf.zeros([1, 3, 4]);
    expect(() => m.forward(x, { attn_mask: tf.zeros([3, 4], 'bool') })).toThrow(/attn_mask must be \[3, 3\]/);
    expect(() => new MultiheadAttention({ embed_dim: 5, num_heads: 2 })).toThrow(/not divisible/);
    m.dispose();
  });
});
