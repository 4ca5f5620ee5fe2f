/**
 * The wasm Slice / Unpack / SplitV / StridedSlice / Transpose replacements (backend/slice_wasm.ts,
 * transpose_wasm.ts) move data only, so they must equal the cpu backend's results exactly, for every
 * rank, dtype, axis and the edge cases (empty slices, whole-tensor slices, shrink / new axes, negative
 * strides left to the original kernel; size-1 and mergeable axes, short runs).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectExact } from '@detr/core/testing';
import { installFastKernels, simplifyTranspose, withBackend } from '../src/backend/index';

type Op = () => tf.Tensor | tf.Tensor[];

async function onBoth(op: Op): Promise<{ wasm: { shape: number[]; values: number[] }[]; cpu: { shape: number[]; values: number[] }[] }> {
  const run = () =>
    tf.tidy(() => {
      const out = op();
      return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: [...t.shape], values: Array.from(t.dataSync() as ArrayLike<number>) }));
    });
  return { cpu: await withBackend('cpu', run), wasm: await withBackend('wasm', run, { threads: 2 }) };
}

function same(r: Awaited<ReturnType<typeof onBoth>>, label: string): void {
  expect(r.wasm.length, label).toBe(r.cpu.length);
  r.cpu.forEach((c, i) => {
    expect(r.wasm[i].shape, `${label} [${i}] shape`).toEqual(c.shape);
    expectExact(r.wasm[i].values, c.values, `${label} [${i}]`);
  });
}

const iota = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => tf.range(0, shape.reduce((p, v) => p * v, 1), 1, dtype).reshape(shape);

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

describe('wasm slicing kernels equal the cpu backend', () => {
  it('slice: ranks 1-5, partial and whole axes, empty, int32 and bool', async () => {
    const cases: [number[], number[], number[]][] = [
      [[10], [3], [4]],
      [[4, 5], [1, 0], [2, 5]],
      [[4, 5], [0, 2], [4, 2]],
      [[3, 4, 5], [1, 1, 1], [2, 2, 3]],
      [[3, 4, 5], [2, 0, 0], [1, 4, 5]],
      [[2, 3, 4, 5], [0, 1, 0, 2], [2, 1, 4, 3]],
      [[2, 3, 2, 3, 4], [1, 0, 1, 1, 0], [1, 3, 1, 2, 4]],
      [[3, 4], [1, 2], [0, 2]],
      [[3, 4], [0, 0], [-1, -1]],
    ];
    for (const [shape, begin, size] of cases) {
      same(await onBoth(() => tf.slice(iota(shape), begin, size)), `slice ${shape} ${begin} ${size}`);
      same(await onBoth(() => tf.slice(iota(shape, 'int32'), begin, size)), `slice int32 ${shape}`);
    }
    same(await onBoth(() => tf.slice(tf.greater(iota([4, 6]), 11), [1, 1], [2, 4]).cast('int32')), 'slice bool');
  });

  it('unstack and split on every axis', async () => {
    for (const axis of [0, 1, 2]) {
      same(await onBoth(() => tf.unstack(iota([3, 4, 5]), axis)), `unstack axis ${axis}`);
      same(await onBoth(() => tf.split(iota([4, 6, 4]), axis === 1 ? [1, 3, 2] : 2, axis)), `split axis ${axis}`);
    }
    same(await onBoth(() => tf.split(iota([4, 6], 'int32'), [0, 6, 0], 1)), 'split with empty parts');
  });

  it('stridedSlice: contiguous branch replaced, strided / reversed / identity left to tfjs', async () => {
    const x = () => iota([4, 5, 6]);
    const cases: [number[], number[], number[], number, number, number, number, number][] = [
      [[1, 0, 0], [3, 5, 6], [1, 1, 1], 0, 0, 0, 0, 0], // dim-0 slice
      [[1, 1, 2], [3, 4, 5], [1, 1, 1], 0, 0, 0, 0, 0], // simple slice
      [[2, 1, 0], [3, 4, 6], [1, 1, 1], 0, 0, 0, 0, 1], // shrink axis 0
      [[0, 1, 0], [4, 3, 6], [1, 1, 1], 0, 0, 0, 2, 0], // new axis
      [[0, 0, 0], [4, 5, 6], [1, 2, 3], 0, 0, 0, 0, 0], // strided (C++ path)
      [[3, 0, 0], [0, 5, 6], [-1, 1, 1], 1 << 1, 1 << 1, 0, 0, 0], // reversed
      [[0, 0, 0], [4, 5, 6], [1, 1, 1], 0, 0, 0, 0, 0], // identity
      [[2, 0, 0], [2, 5, 6], [1, 1, 1], 0, 0, 0, 0, 0], // empty (begin = end; begin > end fails in tfjs-core itself)
    ];
    for (const [b, e, s, bm, em, el, na, sh] of cases) {
      same(await onBoth(() => tf.stridedSlice(x(), b, e, s, bm, em, el, na, sh)), `stridedSlice ${b}:${e}:${s} masks ${bm},${em},${el},${na},${sh}`);
    }
  });
});

describe('wasm Transpose replacement equals the cpu backend', () => {
  it('ranks 5 and 6: unmergeable (JS runs), mergeable (rank-4 kernel), size-1 axes, short last axis', async () => {
    const cases: [number[], number[]][] = [
      [[2, 12, 3, 4, 8], [2, 0, 3, 1, 4]], // JS run copy, run 8
      [[2, 5, 3, 4, 9], [3, 1, 4, 0, 2]], // last axis moves: original kernel
      [[2, 3, 4, 5, 6], [0, 3, 1, 2, 4]], // 1,2 merge -> rank 4
      [[2, 1, 3, 1, 4, 8], [5, 3, 0, 2, 1, 4]], // size-1 axes dropped
      [[2, 3, 2, 3, 2, 16], [4, 2, 0, 3, 1, 5]], // rank 6 JS path
      [[3, 2, 4, 2, 3], [1, 0, 3, 2, 4]], // run 3 < 8: original kernel
    ];
    for (const [shape, perm] of cases) {
      same(await onBoth(() => tf.transpose(iota(shape), perm)), `transpose ${shape} ${perm}`);
      same(await onBoth(() => tf.transpose(iota(shape, 'int32'), perm)), `transpose int32 ${shape} ${perm}`);
    }
  });

  it('matrix transposes (blocked JS copy): 2-d, batched, merged axes, odd sizes, int32 and bool, thin ones to the original', async () => {
    const cases: [number[], number[]][] = [
      [[37, 53], [1, 0]], // neither side a multiple of the 16-tile or of the 4-row step
      [[16, 64], [1, 0]],
      [[3, 21, 18], [0, 2, 1]], // batched
      [[5, 7, 9], [1, 2, 0]], // axes 1,2 merge: [5, 63] -> [63, 5]
      [[2, 3, 17, 19], [0, 1, 3, 2]], // axes 0,1 merge: 6 matrices [17, 19]
      [[2, 1, 6, 1, 9], [0, 4, 3, 2, 1]], // size-1 axes dropped, then batched
      [[3, 40], [1, 0]], // a side under 4: the original kernel
    ];
    for (const [shape, perm] of cases) {
      same(await onBoth(() => tf.transpose(iota(shape), perm)), `transpose ${shape} ${perm}`);
      same(await onBoth(() => tf.transpose(iota(shape, 'int32'), perm)), `transpose int32 ${shape} ${perm}`);
    }
    same(await onBoth(() => tf.transpose(tf.greater(tf.sin(iota([13, 22])), 0.2), [1, 0]).cast('int32')), 'transpose bool');
  });

  it('simplifyTranspose drops size-1 axes and merges axes that stay adjacent', () => {
    expect(simplifyTranspose([2, 3, 4, 5, 6], [0, 3, 1, 2, 4])).toEqual({ shape: [2, 12, 5, 6], perm: [0, 2, 1, 3] });
    expect(simplifyTranspose([2, 1, 3], [2, 1, 0])).toEqual({ shape: [2, 3], perm: [1, 0] });
    expect(simplifyTranspose([2, 3, 4], [0, 1, 2])).toEqual({ shape: [24], perm: [0] });
  });
});
