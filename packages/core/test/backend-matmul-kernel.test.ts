/**
 * The wasm BatchMatMul replacement (backend/batch_matmul_wasm.ts): raw tf.matMul on wasm against a
 * float64 loop with explicit broadcasting, for every path (gemm_wasm with every flag, folded
 * shared right operand, per-entry products, XNNPACK for small plain 2-d products, broadcast
 * batches [2,1] x [3] that tfjs-wasm's own kernel gets wrong), and tfjs's own flag-using gradients on
 * wasm against the cpu backend. Tolerances: activations 1e-5, gradients 1e-4 (parity README §2).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose } from '@detr/core/testing';
import { broadcastBatchIndex, installFastKernels, setFastGradientsEnabled, setOwnGemmMinMacs, withBackend } from '../src/backend/index';
import { seeded } from './ops-reference';

/** float64 C = op(A)·op(B) with numpy-style broadcasting of the batch dims. */
function refMatMul(av: Float32Array, as: number[], bv: Float32Array, bs: number[], tA: boolean, tB: boolean): { y: Float64Array; shape: number[] } {
  const ra = as.length;
  const rb = bs.length;
  const [M, K] = tA ? [as[ra - 1], as[ra - 2]] : [as[ra - 2], as[ra - 1]];
  const N = tB ? bs[rb - 2] : bs[rb - 1];
  const la = as.slice(0, -2);
  const lb = bs.slice(0, -2);
  const r = Math.max(la.length, lb.length);
  const pa = [...Array(r - la.length).fill(1), ...la];
  const pb = [...Array(r - lb.length).fill(1), ...lb];
  const lead = pa.map((v, i) => Math.max(v, pb[i]));
  const batch = lead.reduce((p, v) => p * v, 1);
  const y = new Float64Array(batch * M * N);
  for (let o = 0; o < batch; o++) {
    let rest = o;
    let ia = 0;
    let ib = 0;
    let sa = 1;
    let sb = 1;
    for (let d = r - 1; d >= 0; d--) {
      const i = rest % lead[d];
      rest = Math.floor(rest / lead[d]);
      if (pa[d] !== 1) ia += i * sa;
      if (pb[d] !== 1) ib += i * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const x = av[ia * M * K + (tA ? k * M + m : m * K + k)];
          const z = bv[ib * K * N + (tB ? n * K + k : k * N + n)];
          acc += x * z;
        }
        y[(o * M + m) * N + n] = acc;
      }
  }
  return { y, shape: [...lead, M, N] };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

describe('wasm BatchMatMul replacement', () => {
  const CASES: { name: string; a: number[]; b: number[] }[] = [
    { name: '2-d, M << N', a: [3, 9], b: [9, 20] },
    { name: '2-d, M >> N', a: [20, 9], b: [9, 3] },
    { name: 'batch-1 3-d', a: [1, 5, 7], b: [1, 7, 6] },
    { name: 'shared right operand', a: [2, 3, 5, 7], b: [7, 6] },
    { name: 'batched', a: [4, 3, 5], b: [4, 5, 2] },
    { name: 'broadcast batch 1 x 3', a: [1, 6, 5], b: [3, 5, 7] },
    { name: 'broadcast [2,1] x [3]', a: [2, 1, 3, 4], b: [3, 4, 5] },
    { name: 'broadcast [3] x [2,1]', a: [3, 6, 4], b: [2, 1, 4, 5] },
    { name: '2-d, N < 8 (XNNPACK keeps it)', a: [40, 30], b: [30, 5] },
    { name: 'K above the k block (256): two blocks and a tail', a: [9, 300], b: [300, 11] },
    { name: 'batched, M << N', a: [4, 5, 9], b: [4, 9, 21] },
    { name: 'broadcast [2,1] x [3], M << N', a: [2, 1, 5, 8], b: [3, 8, 22] },
  ];
  // Own-GEMM threshold 0: every float32 product but 2-d ones with N < 8 runs on gemm_wasm; Infinity:
  // plain 2-d products go to XNNPACK (flagged or batched ones stay on gemm_wasm).
  it.each(CASES)('$name: all transpose flags, gemm_wasm and XNNPACK paths, match float64', async (c) => {
    for (const [tA, tB, split] of [false, true].flatMap((x) => [false, true].flatMap((y) => [0, Infinity].map((z) => [x, y, z] as const)))) {
      const prevSplit = setOwnGemmMinMacs(split);
      try {
        const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        const as = swap(c.a, tA);
        const bs = swap(c.b, tB);
        const av = Float32Array.from(seeded(as.reduce((p, v) => p * v, 1), 1));
        const bv = Float32Array.from(seeded(bs.reduce((p, v) => p * v, 1), 2));
        const ref = refMatMul(av, as, bv, bs, tA, tB);
        const got = await withBackend('wasm', () =>
          tf.tidy(() => {
            const y = tf.matMul(tf.tensor(av, as), tf.tensor(bv, bs), tA, tB);
            return { shape: y.shape, values: y.dataSync() as Float32Array };
          }), { threads: 2 },
        );
        expect(got.shape, `${c.name} tA=${tA} tB=${tB} own>=${split}`).toEqual(ref.shape);
        expectClose(got.values, ref.y, RTOL.activation, `${c.name} tA=${tA} tB=${tB} own>=${split}`);
      } finally {
        setOwnGemmMinMacs(prevSplit);
      }
    }
  });

  it("tfjs's own (flag-using) matMul gradients on wasm match the cpu backend", async () => {
    const go = () =>
      tf.tidy(() => {
        const a = tf.tensor(Float32Array.from(seeded(3 * 20 * 24, 3)), [3, 20, 24]);
        const b = tf.tensor(Float32Array.from(seeded(3 * 24 * 18, 4)), [3, 24, 18]);
        const r = tf.tensor(Float32Array.from(seeded(3 * 20 * 18, 5)), [3, 20, 18]);
        return tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z), r)))([a, b]).map((g) => g.dataSync() as Float32Array);
      });
    const prev = setFastGradientsEnabled(false);
    try {
      const ref = await withBackend('cpu', go);
      const got = await withBackend('wasm', go, { threads: 2 });
      expectClose(got[0], ref[0], RTOL.grad, 'da');
      expectClose(got[1], ref[1], RTOL.grad, 'db');
    } finally {
      setFastGradientsEnabled(prev);
    }
  });

  it('broadcastBatchIndex maps output batch entries to operand entries', () => {
    expect(Array.from(broadcastBatchIndex([2, 3], [2, 1]))).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(broadcastBatchIndex([2, 3], [3]))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(Array.from(broadcastBatchIndex([2, 3], [1]))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(broadcastBatchIndex([2, 3], [2, 3]))).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
