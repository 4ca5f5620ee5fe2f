/**
 * ops/matmul (flag-free products on wasm) and the BatchMatMul gradient override, for every transpose
 * combination, 2-d, batched (split and unsplit paths) and broadcast batches: values and gradients on
 * wasm (2 threads) and cpu against tf.matMul with tfjs's own gradient on the cpu backend, and against
 * a float64 loop reference where tfjs's gradient cannot serve (broadcast batches).
 * Tolerances: activations 1e-5, gradients 1e-4 (fixtures/parity/README.md section 2).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose } from '@detr/core/testing';
import { BMM_SPLIT_MIN_MACS, bmm, matMul } from '../src/ops/matmul';
import { linear } from '../src/ops/linear';
import { installFastKernels, setFastBatchMatMulEnabled, setFastGradientsEnabled, withBackend } from '../src/backend/index';
import { seeded } from './ops-reference';

type Flags = { transposeA: boolean; transposeB: boolean };
const FLAGS: Flags[] = [
  { transposeA: false, transposeB: false },
  { transposeA: false, transposeB: true },
  { transposeA: true, transposeB: false },
  { transposeA: true, transposeB: true },
];

function shapes(batch: number[], m: number, k: number, n: number, f: Flags): [number[], number[]] {
  return [
    [...batch, ...(f.transposeA ? [k, m] : [m, k])],
    [...batch, ...(f.transposeB ? [n, k] : [k, n])],
  ];
}

interface Result {
  y: Float32Array;
  da: Float32Array;
  db: Float32Array;
}

function run(aShape: number[], bShape: number[], f: Flags, useOps: boolean, seed: number): Result {
  return tf.tidy(() => {
    const a = tf.tensor(Float32Array.from(seeded(aShape.reduce((p, v) => p * v, 1), seed)), aShape);
    const b = tf.tensor(Float32Array.from(seeded(bShape.reduce((p, v) => p * v, 1), seed + 1)), bShape);
    const prod = (x: tf.Tensor, z: tf.Tensor) => (useOps ? matMul(x, z, f) : tf.matMul(x, z, f.transposeA, f.transposeB));
    const y = prod(a, b);
    const r = tf.tensor(Float32Array.from(seeded(y.size, seed + 2)), y.shape);
    const [da, db] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(prod(x, z), r)))([a, b]);
    return { y: y.dataSync() as Float32Array, da: da.dataSync() as Float32Array, db: db.dataSync() as Float32Array };
  });
}

async function reference(aShape: number[], bShape: number[], f: Flags, seed: number): Promise<Result> {
  const prev = setFastGradientsEnabled(false);
  try {
    return await withBackend('cpu', () => run(aShape, bShape, f, false, seed));
  } finally {
    setFastGradientsEnabled(prev);
  }
}

function compare(got: Result, ref: Result, label: string): void {
  expectClose(got.y, ref.y, RTOL.activation, `${label} y`);
  expectClose(got.da, ref.da, RTOL.grad, `${label} da`);
  expectClose(got.db, ref.db, RTOL.grad, `${label} db`);
}

const flagName = (f: Flags) => `tA=${f.transposeA} tB=${f.transposeB}`;

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});
afterAll(() => {
  setFastGradientsEnabled(true);
});

describe('matMul / BatchMatMul gradient', () => {
  // 2-d with M much smaller than N (and the reverse) so that both arrangements of plain2d are taken.
  const CASES2D: [number, number, number][] = [
    [5, 7, 6],
    [2, 9, 17],
    [17, 9, 2],
  ];
  it.each(FLAGS)('2-d, $transposeA/$transposeB: ops/matMul and tf.matMul on wasm and cpu match tfjs on cpu', async (f) => {
    for (const [m, k, n] of CASES2D) {
      const [as, bs] = shapes([], m, k, n, f);
      const ref = await reference(as, bs, f, 3);
      for (const backend of ['wasm', 'wasm (tfjs kernel)', 'cpu'] as const) {
        const prev = setFastBatchMatMulEnabled(backend !== 'wasm (tfjs kernel)'); // off: ops/matmul's own flag-free path
        try {
          for (const useOps of [true, false]) {
            const got = await withBackend(backend === 'cpu' ? 'cpu' : 'wasm', () => run(as, bs, f, useOps, 3), { threads: 2 });
            compare(got, ref, `${m}x${k}x${n} ${flagName(f)} ${backend} ${useOps ? 'ops.matMul' : 'tf.matMul'}`);
          }
        } finally {
          setFastBatchMatMulEnabled(prev);
        }
      }
    }
  });

  it.each(FLAGS)('batched (split and kernel paths), $transposeA/$transposeB: bmm on wasm matches tfjs on cpu', async (f) => {
    const big = Math.ceil(Math.cbrt(BMM_SPLIT_MIN_MACS)) + 1; // per-entry work above the split threshold
    for (const [m, k, n] of [
      [3, 4, 5],
      [big, big, big],
    ]) {
      const [as, bs] = shapes([3], m, k, n, f);
      const ref = await reference(as, bs, f, 7);
      for (const kernelOn of [true, false]) {
        const prev = setFastBatchMatMulEnabled(kernelOn); // off: ops/matmul's own split path
        try {
          const got = await withBackend('wasm', () => run(as, bs, f, true, 7), { threads: 2 });
          compare(got, ref, `[3] ${m}x${k}x${n} ${flagName(f)} ${kernelOn ? 'detr-ts kernel' : 'ops split'}`);
        } finally {
          setFastBatchMatMulEnabled(prev);
        }
      }
    }
    await withBackend('wasm', () =>
      tf.tidy(() => {
        const [as, bs] = shapes([2], 2, 3, 4, f);
        const shape = bmm(tf.zeros(as) as unknown as tf.Tensor3D, tf.zeros(bs) as unknown as tf.Tensor3D, f).shape;
        expect(shape).toEqual([2, 2, 4]);
      }),
    );
  });

  it('broadcast batch dims: ops/matMul values and gradients (summed over broadcast axes) match float64', async () => {
    // a [2,1,3,4] · b [3,4,5] -> [2,3,3,5]; dL/da sums over b's batch, dL/db over a's.
    const aShape = [2, 1, 3, 4];
    const bShape = [3, 4, 5];
    const av = Float32Array.from(seeded(24, 1));
    const bv = Float32Array.from(seeded(60, 2));
    const rv = Float32Array.from(seeded(2 * 3 * 3 * 5, 3));
    // float64: y[i,j,p,q] = Σ_k a[i,0,p,k] b[j,k,q]; L = Σ y·r
    const y = new Float64Array(2 * 3 * 3 * 5);
    const da = new Float64Array(24);
    const db = new Float64Array(60);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let p = 0; p < 3; p++)
          for (let q = 0; q < 5; q++) {
            const r = rv[((i * 3 + j) * 3 + p) * 5 + q];
            for (let k = 0; k < 4; k++) {
              y[((i * 3 + j) * 3 + p) * 5 + q] += av[(i * 3 + p) * 4 + k] * bv[(j * 4 + k) * 5 + q];
              da[(i * 3 + p) * 4 + k] += r * bv[(j * 4 + k) * 5 + q];
              db[(j * 4 + k) * 5 + q] += r * av[(i * 3 + p) * 4 + k];
            }
          }
    for (const backend of ['wasm', 'cpu'] as const) {
      const [ga, gb] = await withBackend(backend, () =>
        tf.tidy(() => {
          const r = tf.tensor(rv, [2, 3, 3, 5]);
          const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z), r)))([tf.tensor(av, aShape), tf.tensor(bv, bShape)]);
          return g.map((t) => t.dataSync() as Float32Array);
        }), { threads: 2 },
      );
      const yv = await withBackend(backend, () => tf.tidy(() => matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape)).dataSync() as Float32Array));
      expectClose(yv, y, RTOL.activation, `y (${backend})`);
      expectClose(ga, da, RTOL.grad, `da (${backend})`);
      expectClose(gb, db, RTOL.grad, `db (${backend})`);
    }
  });

  it('linear: values and gradients on wasm match tfjs on cpu', async () => {
    const go = () =>
      tf.tidy(() => {
        const x = tf.tensor(Float32Array.from(seeded(2 * 5 * 6, 9)), [2, 5, 6]);
        const w = tf.tensor2d(Float32Array.from(seeded(6 * 4, 10)), [6, 4]);
        const b = tf.tensor1d(Float32Array.from(seeded(4, 11)));
        const r = tf.tensor(Float32Array.from(seeded(2 * 5 * 4, 12)), [2, 5, 4]);
        const y = linear(x, w, b);
        const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww as tf.Tensor2D, bb as tf.Tensor1D), r)))([x, w, b]);
        return [y, ...g].map((t) => t.dataSync() as Float32Array);
      });
    const prev = setFastGradientsEnabled(false);
    const ref = await withBackend('cpu', go);
    setFastGradientsEnabled(prev);
    const got = await withBackend('wasm', go, { threads: 2 });
    expectClose(got[0], ref[0], RTOL.activation, 'linear y');
    ['dx', 'dW', 'db'].forEach((n, i) => expectClose(got[i + 1], ref[i + 1], RTOL.grad, `linear ${n}`));
  });

  it('linear (one op, only x and W saved): values and gradients equal autodiff of the plain ops x·W + b, with and without bias', async () => {
    await withBackend('cpu', () =>
      tf.tidy(() => {
        const x = tf.tensor(Float32Array.from(seeded(2 * 5 * 6, 21)), [2, 5, 6]);
        const w = tf.tensor2d(Float32Array.from(seeded(6 * 4, 22)), [6, 4]);
        const b = tf.tensor1d(Float32Array.from(seeded(4, 23)));
        const r = tf.tensor(Float32Array.from(seeded(2 * 5 * 4, 24)), [2, 5, 4]);
        const plain = (xx: tf.Tensor, ww: tf.Tensor, bb?: tf.Tensor) => {
          const y = tf.matMul(xx.reshape([10, 6]), ww as tf.Tensor2D).reshape([2, 5, 4]);
          return bb ? y.add(bb) : y;
        };
        const withBias = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww as tf.Tensor2D, bb as tf.Tensor1D), r)))([x, w, b]);
        const refBias = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(plain(xx, ww, bb), r)))([x, w, b]);
        expectClose(linear(x, w, b), plain(x, w, b), RTOL.activation, 'y');
        ['dx', 'dW', 'db'].forEach((n, i) => expectClose(withBias[i], refBias[i], RTOL.grad, `${n} (bias)`));
        const noBias = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww as tf.Tensor2D), r)))([x, w]);
        const refNoBias = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(plain(xx, ww), r)))([x, w]);
        ['dx', 'dW'].forEach((n, i) => expectClose(noBias[i], refNoBias[i], RTOL.grad, `${n} (no bias)`));
      }),
    );
  });

  it('reports bad input clearly', async () => {
    await withBackend('cpu', () =>
      tf.tidy(() => {
        expect(() => matMul(tf.zeros([2, 3]), tf.zeros([4, 5]))).toThrow(/inner dimensions differ.*\[2,3\].*3.*\[4,5\].*4/);
        expect(() => bmm(tf.zeros([2, 3, 4]) as tf.Tensor3D, tf.zeros([3, 4, 5]) as tf.Tensor3D)).toThrow(/batch sizes differ/);
        expect(() => linear(tf.zeros([2, 3]), tf.zeros([4, 5]) as tf.Tensor2D)).toThrow(/3 features but the weight expects 4/);
      }),
    );
  });
});
