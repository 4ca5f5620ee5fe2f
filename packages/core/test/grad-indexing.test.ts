/**
 * Gradients that need a kernel wasm lacks or a gradient tfjs lacks:
 *  - gather (its gradient is UnsortedSegmentSum; the wasm kernel of backend/unsorted_segment_sum_wasm),
 *    axis 0 and 1 with repeated and unused indices, against tfjs's cpu kernels, plus the kernel itself
 *    with out-of-range ids and 2-d segment ids against a float64 loop;
 *  - gatherND, topk, stridedSlice (backend/indexing_grads) against float64 loop references;
 *  - comparison/logical ops under tf.where (backend/comparison_grads): zero gradient for the condition.
 * Everything on wasm (2 threads) and cpu. Tolerance: gradients rtol 1e-4 (parity README section 2).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose, expectExact } from '@detr/core/testing';
import { installFastKernels, setFastGradientsEnabled, unsortedSegmentSumInto, withBackend } from '../src/backend/index';
import { seeded } from './ops-reference';

const BACKENDS = ['wasm', 'cpu'] as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

describe('gather gradient (UnsortedSegmentSum)', () => {
  it.each([0, 1])('axis %i, repeated and unused indices: wasm matches the cpu kernels', async (axis) => {
    const xShape = [5, 4, 3];
    const idx = [3, 0, 3, 3, 1]; // 2 and (axis 0) 4 unused, 3 repeated
    const xv = Float32Array.from(seeded(60, 1));
    const go = () =>
      tf.tidy(() => {
        const x = tf.tensor(xv, xShape);
        const ids = tf.tensor1d(idx, 'int32');
        const outShape = [...xShape];
        outShape[axis] = idx.length;
        const r = tf.tensor(Float32Array.from(seeded(outShape.reduce((p, v) => p * v, 1), 2)), outShape);
        return (tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids, axis), r)))(x).dataSync() as Float32Array);
      });
    const ref = await withBackend('cpu', go);
    const got = await withBackend('wasm', go, { threads: 2 });
    expectClose(got, ref, RTOL.grad, `gather axis ${axis} gradient`);
    expect(Array.from(got.slice(2 * 12, 3 * 12)).every((v) => v === 0) || axis === 1).toBe(true);
  });

  it('wasm kernel: out-of-range ids dropped, 2-d segment ids, int32 values (float64 loop reference)', async () => {
    const x = Float32Array.from(seeded(2 * 3 * 4, 5));
    const ids = [2, -1, 0, 7, 2, 1]; // [2, 3]; -1 and 7 (>= numSegments) are dropped
    const numSegments = 4;
    const ref = new Float64Array(numSegments * 4);
    ids.forEach((s, i) => {
      if (s >= 0 && s < numSegments) for (let j = 0; j < 4; j++) ref[s * 4 + j] += x[i * 4 + j];
    });
    const got = await withBackend('wasm', () =>
      tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(x, [2, 3, 4]), tf.tensor2d(ids, [2, 3], "int32") as unknown as tf.Tensor1D, numSegments).dataSync() as Float32Array),
    );
    expectClose(got, ref, 1e-6, 'unsortedSegmentSum values');
    const ints = await withBackend('wasm', () =>
      tf.tidy(() => Array.from(tf.unsortedSegmentSum(tf.tensor1d([5, 6, 7], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2).dataSync())),
    );
    expect(ints).toEqual([7, 11]);
    // The loop itself, on plain arrays.
    const out = new Float32Array(2);
    unsortedSegmentSumInto(out, Float32Array.from([1, 2, 3]), Int32Array.from([1, 5, 1]), 2, 1);
    expect(Array.from(out)).toEqual([0, 4]);
  });
});

describe('gradients tfjs lacks', () => {
  it('gatherND (duplicate indices add up)', async () => {
    const pv = Float32Array.from(seeded(4 * 3 * 2, 7));
    const ind = [
      [1, 2],
      [0, 0],
      [1, 2],
    ]; // -> rows of length 2
    const rv = Float32Array.from(seeded(3 * 2, 8));
    const ref = new Float64Array(24);
    ind.forEach(([i, j], k) => {
      for (let q = 0; q < 2; q++) ref[(i * 3 + j) * 2 + q] += rv[k * 2 + q];
    });
    for (const b of BACKENDS) {
      const got = await withBackend(b, () =>
        tf.tidy(() => {
          const idx = tf.tensor2d(ind, [3, 2], 'int32');
          const r = tf.tensor2d(rv, [3, 2]);
          return tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gatherND(p, idx), r)))(tf.tensor(pv, [4, 3, 2])).dataSync() as Float32Array;
        }), { threads: 2 },
      );
      expectClose(got, ref, RTOL.grad, `gatherND gradient (${b})`);
    }
  });

  it('topk values: the gradient lands on the selected entries of each row', async () => {
    const xv = Float32Array.from(seeded(3 * 6, 9));
    const rv = Float32Array.from(seeded(3 * 2, 10));
    // Reference: per row, the 2 largest entries (distinct values) get r.
    const ref = new Float64Array(18);
    for (let row = 0; row < 3; row++) {
      const order = [...Array(6).keys()].sort((a, b) => xv[row * 6 + b] - xv[row * 6 + a]);
      ref[row * 6 + order[0]] = rv[row * 2];
      ref[row * 6 + order[1]] = rv[row * 2 + 1];
    }
    for (const b of BACKENDS) {
      const got = await withBackend(b, () =>
        tf.tidy(() => {
          const r = tf.tensor2d(rv, [3, 2]);
          return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.topk(x, 2).values, r)))(tf.tensor2d(xv, [3, 6])).dataSync() as Float32Array;
        }), { threads: 2 },
      );
      expectClose(got, ref, RTOL.grad, `topk gradient (${b})`);
    }
  });

  it.each([
    { name: 'x[1:6:2, ::-1]', begin: [1, 0], end: [6, 0], strides: [2, -1], beginMask: 2, endMask: 2, shrink: 0 },
    { name: 'x[:, 1:5:3] with masks', begin: [0, 1], end: [0, 5], strides: [1, 3], beginMask: 1, endMask: 1, shrink: 0 },
    { name: 'x[2, 1:4] (shrink axis 0)', begin: [2, 1], end: [3, 4], strides: [1, 1], beginMask: 0, endMask: 0, shrink: 1 },
  ])('stridedSlice $name', async (c) => {
    const shape = [7, 5];
    const xv = Float32Array.from(seeded(35, 11));
    // Reference: the selected (row, col) positions from a direct walk of Python slice semantics.
    const dim = (d: number, b: number, e: number, s: number, bm: boolean, em: boolean, shrink: boolean): number[] => {
      if (shrink) return [b];
      const n = shape[d];
      const start = bm ? (s > 0 ? 0 : n - 1) : b;
      const stop = em ? (s > 0 ? n : -1) : e;
      const out: number[] = [];
      for (let i = start; s > 0 ? i < stop : i > stop; i += s) out.push(i);
      return out;
    };
    const rows = dim(0, c.begin[0], c.end[0], c.strides[0], (c.beginMask & 1) > 0, (c.endMask & 1) > 0, (c.shrink & 1) > 0);
    const cols = dim(1, c.begin[1], c.end[1], c.strides[1], (c.beginMask & 2) > 0, (c.endMask & 2) > 0, (c.shrink & 2) > 0);
    const rv = Float32Array.from(seeded(rows.length * cols.length, 12));
    const ref = new Float64Array(35);
    const vals: number[] = [];
    rows.forEach((i, a) => cols.forEach((j, q) => ((ref[i * 5 + j] += rv[a * cols.length + q]), vals.push(xv[i * 5 + j]))));
    for (const b of BACKENDS) {
      const [y, g] = await withBackend(b, () =>
        tf.tidy(() => {
          const f = (x: tf.Tensor) => tf.stridedSlice(x, c.begin, c.end, c.strides, c.beginMask, c.endMask, 0, 0, c.shrink);
          const x = tf.tensor2d(xv, [7, 5]);
          const y0 = f(x);
          const r = tf.tensor(rv, y0.shape);
          return [y0.dataSync() as Float32Array, tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), r)))(x).dataSync() as Float32Array];
        }), { threads: 2 },
      );
      expectExact(y, vals, `stridedSlice values ${c.name} (${b})`);
      expectClose(g, ref, RTOL.grad, `stridedSlice gradient ${c.name} (${b})`);
    }
  });

  it('comparisons and logical ops under where: condition gets zero gradient, branches the selected dy', async () => {
    const xv = Float32Array.from([-1.5, 0.5, 2, -0.25, 3, 0]);
    for (const b of BACKENDS) {
      const g = await withBackend(b, () =>
        tf.tidy(() =>
          tf.grad((x: tf.Tensor) => {
            const cond = tf.logicalOr(tf.logicalAnd(tf.greater(x, 0), tf.less(x, 2.5)), tf.logicalNot(tf.notEqual(tf.equal(x, 3), tf.lessEqual(x, -100))));
            return tf.sum(tf.where(cond, tf.mul(x, 2), tf.mul(x, -3)));
          })(tf.tensor1d(xv)).dataSync() as Float32Array,
        ), { threads: 2 },
      );
      // cond = (0 < x < 2.5) || !(x == 3 != x <= -100) = (0 < x < 2.5) || x != 3  -> false only at x = 3.
      expectClose(g, [2, 2, 2, 2, -3, 2], RTOL.grad, `where gradient (${b})`);
    }
    const prev = setFastGradientsEnabled(false);
    try {
      // Still zero (no upstream gradient to fall back to): the overrides are the only gradient.
      const g = await withBackend('cpu', () => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.where(tf.greater(x, 0), x, tf.neg(x))))(tf.tensor1d(xv)).dataSync()));
      expect(Array.from(g)).toEqual([-1, 1, 1, -1, 1, -1]);
    } finally {
      setFastGradientsEnabled(prev);
    }
  });
});
