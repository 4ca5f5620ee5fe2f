/**
 * The wasm Sum replacement (backend/sum_wasm.ts) sums leading axes in JS. It must give the same bits as
 * tfjs-wasm's own kernel, which reduces innermost axes with one float32 running sum per output: the
 * reference is that kernel on the input with the summed axes moved innermost (same order of additions).
 * Values span six orders of magnitude so that a different order or a float64 accumulator changes bits.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectExact } from '@detr/core/testing';
import { installFastKernels, sumRowsInto, withBackend } from '../src/backend/index';
import { mixedMagnitude } from './ops-reference';

/** Seeded values of mixed magnitude (1e-3 .. 1e3, both signs). */
const mixed = (n: number, seed: number): Float32Array => mixedMagnitude(n, seed, 3);

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

describe('wasm Sum over leading axes', () => {
  const CASES: { shape: number[]; axes: number[] }[] = [
    { shape: [1031, 7], axes: [0] }, // rows not a multiple of the 4-row step
    { shape: [2, 513, 5], axes: [0, 1] }, // bias gradient of [B, N, C]
    { shape: [3, 4, 6, 5], axes: [0, 1] },
    { shape: [9, 1], axes: [0] },
  ];
  it.each(CASES)('sum $shape over $axes: the same bits as the original kernel on innermost axes', async ({ shape, axes }) => {
    const n = shape.reduce((p, v) => p * v, 1);
    const values = mixed(n, shape.length);
    const k = axes.length;
    const moved = [...shape.keys()].slice(k).concat([...shape.keys()].slice(0, k)); // summed axes last
    const got = await withBackend('wasm', () =>
      tf.tidy(() => {
        const x = tf.tensor(values, shape);
        const mine = tf.sum(x, axes);
        const kept = tf.sum(x, axes, true);
        const ref = tf.sum(tf.transpose(x, moved), [...Array(k).keys()].map((i) => shape.length - k + i)); // original kernel
        return { mine: Array.from(mine.dataSync()), kept: Array.from(kept.dataSync()), keptShape: kept.shape, ref: Array.from(ref.dataSync()) };
      }), { threads: 2 },
    );
    expectExact(got.mine, got.ref, `sum ${shape} over ${axes}`);
    expectExact(got.kept, got.ref, `keepDims sum ${shape}`);
    expect(got.keptShape).toEqual(shape.map((s, i) => (i < k ? 1 : s)));
  });

  it('a float64 accumulator would differ on these values (the test can tell orders apart)', () => {
    const rows = 1031;
    const cols = 7;
    const x = mixed(rows * cols, 2);
    const acc = new Float32Array(cols);
    sumRowsInto(x, acc, rows, cols);
    const f64 = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) f64[c] += x[r * cols + c];
    expect(Array.from(acc).some((v, c) => v !== Math.fround(f64[c]))).toBe(true);
  });

  it('int32 sums, inner or middle axes and leading axes given out of order still go to the original kernel', async () => {
    const ops = () =>
      tf.tidy(() => {
        const f = tf.range(0, 60).reshape([3, 4, 5]);
        return [tf.sum(tf.range(0, 60, 1, 'int32').reshape([3, 4, 5]), 0), tf.sum(f, 1), tf.sum(f, [1, 0])].map((t) => Array.from(t.dataSync()));
      });
    const cpu = await withBackend('cpu', ops);
    const wasm = await withBackend('wasm', ops);
    cpu.forEach((c, i) => expectExact(wasm[i], c, `case ${i}`));
  });

  it('leading axes given out of order are added in that order, as the original does', async () => {
    const shape = [64, 33, 3];
    const values = mixed(64 * 33 * 3, 9);
    const got = await withBackend('wasm', () =>
      tf.tidy(() => {
        const x = tf.tensor(values, shape);
        return [tf.sum(x, [1, 0]), tf.sum(tf.transpose(x, [2, 1, 0]), [1, 2])].map((t) => Array.from(t.dataSync()));
      }),
    );
    expectExact(got[0], got[1], 'sum over [1, 0]');
  });
});
