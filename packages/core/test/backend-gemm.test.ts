/**
 * gemm_wasm.ts: the WebAssembly SIMD GEMM that takes tfjs-wasm's float32 products. Each output must be
 * the float32 running sum c = c + a·b over k in increasing order (separate rounding of the product and
 * the sum), which is what XNNPACK computes: so the bits must equal a Math.fround loop exactly, for
 * every flag, edge size (M not a multiple of 4, N not of 8, K past the 256-element k block), batch
 * entry and thread split, and equal XNNPACK's own result. Values of mixed magnitude make any other
 * order of additions, a missed k block or a wrong tile change bits. Plus the binary writer's LEB128
 * encodings against the spec's examples. With the fused kernel (relaxed SIMD's relaxed_madd) each
 * step is c = fma(a, b, c), rounded once: the bits must equal a correctly rounded fma loop exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectExact } from '@detr/core/testing';
import {
  type GemmShape,
  encodeModule,
  gemm,
  gemmFunctions,
  gemmMemoryOfBackend,
  gemmThreadPool,
  installFastKernels,
  relaxedMaddFuses,
  relaxedSimdAvailable,
  setGemmFma,
  setOwnGemmMinMacs,
  sleb,
  uleb,
  withBackend,
} from '../src/backend/index';
import { mixedMagnitude } from './ops-reference';

const mixed = (n: number, seed: number): Float32Array => mixedMagnitude(n, seed, 2);

/**
 * fma(a, b, c) rounded once to float32: a·b is exact in float64 (24-bit significands), the sum's
 * float64 rounding error e comes from TwoSum, and only where the float64 sum s lies exactly halfway
 * between two float32 values does e decide the direction (Math.fround would round to even).
 */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb); // p + c = s + e exactly
  const r = Math.fround(s);
  if (e === 0 || r === s) return r;
  const other = Math.fround(2 * s - r); // the float32 on the other side of s
  const halfway = (r + other) / 2 === s;
  return halfway && e > 0 === other > r ? other : r;
}

/** The float32 running sum, k increasing, for entries x (stored per the flags); `fused`: c = fma(a, b, c). */
function sequentialF32(av: Float32Array, bv: Float32Array, s: GemmShape, entries: number, fused = false): Float32Array {
  const { M, K, N, transposeA: tA, transposeB: tB } = s;
  const out = new Float32Array(entries * M * N);
  for (let e = 0; e < entries; e++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let c = 0;
        for (let k = 0; k < K; k++) {
          const a = av[e * M * K + (tA ? k * M + i : i * K + k)];
          const b = bv[e * K * N + (tB ? j * K + k : k * N + j)];
          c = fused ? fmaF32(a, b, c) : Math.fround(c + Math.fround(a * b));
        }
        out[(e * M + i) * N + j] = c;
      }
  return out;
}

/** Runs gemm() directly on wasm heap tensors (entries stacked), optionally split over a helper thread. */
function runGemm(av: Float32Array, bv: Float32Array, s: GemmShape, entries: number, helpers: number): Float32Array {
  return tf.tidy(() => {
    const a = tf.tensor(av);
    const b = tf.tensor(bv);
    const c = tf.fill([entries * s.M * s.N], Number.NaN); // every output must be written
    const be = tf.backend() as unknown as { getMemoryOffset(id: tf.DataId): number };
    const mem = gemmMemoryOfBackend(tf.backend());
    const pool = helpers > 0 ? gemmThreadPool(mem, helpers) : null;
    if (helpers > 0 && !pool) throw new Error('no shared memory: the threaded wasm build is not loaded');
    const [pa, pb, pc] = [a, b, c].map((t) => be.getMemoryOffset(t.dataId));
    const list = Array.from({ length: entries }, (_, e) => ({ a: pa + e * s.M * s.K * 4, b: pb + e * s.K * s.N * 4, c: pc + e * s.M * s.N * 4 }));
    gemm(mem, s, list, pool ?? undefined);
    return c.dataSync() as Float32Array;
  });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

/** Runs fn with the fused kernel on or off, restoring the setting after. */
async function withFma<T>(on: boolean, fn: () => T | Promise<T>): Promise<T> {
  const prev = setGemmFma(on);
  try {
    return await fn();
  } finally {
    setGemmFma(prev);
  }
}

describe('wasm binary writer', () => {
  it('LEB128 encodings match the spec examples', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('the GEMM module validates for shared and non-shared memories', () => {
    for (const shared of [false, true]) {
      const bytes = encodeModule({ shared, maxPages: 65536 }, gemmFunctions());
      expect(WebAssembly.validate(bytes), `shared=${shared}`).toBe(true);
      // with the fused kernel: only where relaxed SIMD is on (relaxedSimdAvailable turns it on in Node 20)
      const relaxed = relaxedSimdAvailable();
      expect(WebAssembly.validate(encodeModule({ shared, maxPages: 65536 }, gemmFunctions(true))), `fma shared=${shared}`).toBe(relaxed);
    }
  });

  it('fmaF32 rounds once: the TwoSum correction decides halfway cases', () => {
    expect(fmaF32(1 + 2 ** -12, 1 - 2 ** -12, -1)).toBe(-(2 ** -24)); // separate roundings give 0
    // a·b = ±2⁻²⁴(1 - 2⁻⁴⁰): the float64 sum lands exactly halfway between two float32 values, the exact
    // sum 2⁻⁶⁴ below / above it; rounding the float64 sum to even would give the other neighbour
    const a = 2 ** -24 * (1 + 2 ** -20);
    const b = 1 - 2 ** -20;
    expect(fmaF32(a, b, 1 + 2 ** -23)).toBe(1 + 2 ** -23); // Math.fround(a * b + c) gives 1 + 2⁻²²
    expect(fmaF32(-a, b, 1 + 2 ** -23)).toBe(1 + 2 ** -23); // Math.fround(-a * b + c) gives 1
    expect(Math.fround(a * b + (1 + 2 ** -23))).toBe(1 + 2 ** -22);
    expect(Math.fround(-a * b + (1 + 2 ** -23))).toBe(1);
  });
});

describe('gemm_wasm: bit-exact float32 GEMM', () => {
  const SHAPES: [number, number, number][] = [
    [4, 1, 8], // one tile, K = 1
    [13, 300, 21], // edge rows and columns, two k blocks (256 + 44)
    [37, 64, 40], // several row and column panels, N a multiple of 8
    [261, 9, 3], // row block boundary (MC = 256) plus an edge panel, N < 8
  ];
  it.each(SHAPES)('M=%i K=%i N=%i: every flag, 3 entries, 1 thread and split over a helper: equal to the float32 running sum', async (M, K, N) => {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const s: GemmShape = { M, K, N, transposeA: tA, transposeB: tB };
      const av = mixed(3 * M * K, M + K);
      const bv = mixed(3 * K * N, N + 7);
      const want = sequentialF32(av, bv, s, 3);
      const [one, split] = await withFma(false, () => withBackend('wasm', () => [runGemm(av, bv, s, 3, 0), runGemm(av, bv, s, 3, 1)], { threads: 2 }));
      expectExact(one, want, `M=${M} K=${K} N=${N} tA=${tA} tB=${tB} 1 thread`);
      expectExact(split, want, `M=${M} K=${K} N=${N} tA=${tA} tB=${tB} helper thread`);
    }
  });

  it.each(SHAPES)('M=%i K=%i N=%i with the fused kernel: equal to the fma running sum, and not to the separately rounded one', async (M, K, N) => {
    expect(relaxedSimdAvailable(), 'relaxed SIMD compiles (Node 20 with the flag set at run time, Node 22+ by default)').toBe(true);
    const fused = relaxedMaddFuses();
    for (const [tA, tB] of [[false, false], [true, true]] as const) {
      const s: GemmShape = { M, K, N, transposeA: tA, transposeB: tB };
      const av = mixed(2 * M * K, M + K + 1);
      const bv = mixed(2 * K * N, N + 8);
      const want = sequentialF32(av, bv, s, 2, fused);
      const [one, split] = await withFma(true, () => withBackend('wasm', () => [runGemm(av, bv, s, 2, 0), runGemm(av, bv, s, 2, 1)], { threads: 2 }));
      expectExact(one, want, `fma M=${M} K=${K} N=${N} tA=${tA} tB=${tB} 1 thread`);
      expectExact(split, want, `fma M=${M} K=${K} N=${N} tA=${tA} tB=${tB} helper thread`);
      if (fused && K > 1) expect(Array.from(one).some((v, i) => v !== sequentialF32(av, bv, s, 2)[i]), 'fma changes some bits').toBe(true);
    }
  });

  it('tf.matMul gives the same bits through gemm_wasm as through XNNPACK', async () => {
    const av = mixed(70 * 130, 11);
    const bv = mixed(130 * 90, 12);
    const run = (own: number) =>
      withBackend('wasm', () => {
        const prev = setOwnGemmMinMacs(own);
        try {
          return tf.tidy(() => tf.matMul(tf.tensor2d(av, [70, 130]), tf.tensor2d(bv, [130, 90])).dataSync() as Float32Array);
        } finally {
          setOwnGemmMinMacs(prev);
        }
      }, { threads: 2 });
    const own = await withFma(false, () => run(0));
    const xnnpack = await run(Infinity);
    expectExact(own, xnnpack, 'gemm_wasm vs XNNPACK');
    expectExact(own, sequentialF32(av, bv, { M: 70, K: 130, N: 90, transposeA: false, transposeB: false }, 1), 'vs the running sum');
  });
});
