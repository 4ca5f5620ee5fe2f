/**
 * conv2d_wasm.ts: Conv2D and Conv2DBackpropFilter on the wasm backend through the own GEMM with an
 * implicit im2col (offset-table packing).
 *  - Conv2D without the fused kernel: the same bits as XNNPACK's convolution (tfjs-wasm's own kernel,
 *    reached with the own conv turned off), for ResNet's geometries, padding 'same' / explicit /
 *    asymmetric, stride, dilation, Cout not a multiple of 8; the wasm backend runs 2 threads, so the
 *    largest case is split over a helper thread (GEMM_THREAD_MIN_MACS) and the others run on one.
 *  - Conv2D with the fused kernel, and Conv2DBackpropFilter: against a float64 loop of the definition
 *    (rtol 1e-5 relative to the sum of |terms|, far below any indexing error), and the filter gradient
 *    also bit for bit against the im2col product it replaces (same order of sums).
 *  - The kernel's error when dy does not fit the conv.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectExact } from '@detr/core/testing';
import { conv2dInfo, conv2dBackpropFilterFast, installFastKernels, ownConv2dActive, setGemmFma, setOwnConvEnabled, withBackend } from '../src/backend/index';
import { type Shape4, mixedMagnitude } from './ops-reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

interface Case {
  name: string;
  x: Shape4;
  f: Shape4;
  stride: number;
  pad: Pad;
  dil: number;
}

const explicit = (t: number, b: number, l: number, r: number): tf.backend_util.ExplicitPadding => [[0, 0], [t, b], [l, r], [0, 0]];

const CASES: Case[] = [
  { name: '3x3 s1 same, Cout 12 (edge column panel)', x: [2, 9, 11, 5], f: [3, 3, 5, 12], stride: 1, pad: 'same', dil: 1 },
  { name: '7x7 s2 p3 stem', x: [1, 21, 18, 3], f: [7, 7, 3, 16], stride: 2, pad: explicit(3, 3, 3, 3), dil: 1 },
  { name: '3x3 s2 same (asymmetric padding)', x: [2, 10, 9, 8], f: [3, 3, 8, 16], stride: 2, pad: 'same', dil: 1 },
  { name: '3x3 dil2 p(2,1,0,2)', x: [2, 12, 12, 6], f: [3, 3, 6, 8], stride: 1, pad: explicit(2, 1, 0, 2), dil: 2 },
  { name: '1x1 s2 valid', x: [2, 9, 9, 32], f: [1, 1, 32, 24], stride: 2, pad: 'valid', dil: 1 },
  { name: '3x3 64->64 on 2x24x24 (above the helper-thread threshold)', x: [2, 24, 24, 64], f: [3, 3, 64, 64], stride: 1, pad: 'same', dil: 1 },
];

const size = (s: number[]): number => s.reduce((p, v) => p * v, 1);

/** The conv geometry of case c (tfjs's, as the kernels compute it). */
const caseInfo = (c: Case) => conv2dInfo(c.x, c.f, { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: c.dil });

/**
 * Calls visit(xi, fi, yi) for every product term x[xi] · W[fi] that output yi of the conv of case c sums
 * (taps in the padding skipped); flat NHWC / HWIO / NHWC indices.
 */
function forEachConvTerm(c: Case, visit: (xi: number, fi: number, yi: number) => void): void {
  const info = caseInfo(c);
  const [n, h, w, cin] = c.x;
  const [kh, kw, , cout] = c.f;
  for (let b = 0; b < n; b++)
    for (let i = 0; i < info.outHeight; i++)
      for (let j = 0; j < info.outWidth; j++)
        for (let a = 0; a < kh; a++)
          for (let q = 0; q < kw; q++) {
            const yy = i * c.stride + a * c.dil - info.padInfo.top;
            const xx = j * c.stride + q * c.dil - info.padInfo.left;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            for (let ch = 0; ch < cin; ch++)
              for (let o = 0; o < cout; o++) visit(((b * h + yy) * w + xx) * cin + ch, ((a * kw + q) * cin + ch) * cout + o, ((b * info.outHeight + i) * info.outWidth + j) * cout + o);
          }
}

/** float64 conv of the definition and the sum of |terms| per output (for a relative bound). */
function convF64(xv: Float32Array, fv: Float32Array, c: Case): { y: Float64Array; mag: Float64Array } {
  const info = caseInfo(c);
  const y = new Float64Array(c.x[0] * info.outHeight * info.outWidth * c.f[3]);
  const mag = new Float64Array(y.length);
  forEachConvTerm(c, (xi, fi, yi) => {
    const t = xv[xi] * fv[fi];
    y[yi] += t;
    mag[yi] += Math.abs(t);
  });
  return { y, mag };
}

function expectNear(got: Float32Array, want: Float64Array, mag: Float64Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (mag[i] + 1e-30));
  expect(worst, `${what}: largest error relative to Σ|terms|`).toBeLessThan(1e-5);
}

/** Conv2D on wasm with the own conv on/off and the fused kernel on/off. */
function runConv(c: Case, xv: Float32Array, fv: Float32Array, own: boolean, fma: boolean): Float32Array {
  const prevOwn = setOwnConvEnabled(own);
  const prevFma = setGemmFma(fma);
  try {
    expect(ownConv2dActive()).toBe(own);
    return tf.tidy(() => tf.conv2d(tf.tensor4d(xv, c.x), tf.tensor4d(fv, c.f), c.stride, c.pad, 'NHWC', c.dil).dataSync() as Float32Array);
  } finally {
    setOwnConvEnabled(prevOwn);
    setGemmFma(prevFma);
  }
}

describe('Conv2D on the own GEMM (wasm)', () => {
  it.each(CASES)('$name: same bits as XNNPACK without the fused kernel, on 1 thread or split; near the float64 definition with it', async (c) => {
    const xv = mixedMagnitude(size(c.x), 3 + c.x[3], 1);
    const fv = mixedMagnitude(size(c.f), 5 + c.f[3], 1);
    const ref = convF64(xv, fv, c);
    const [own, xnnpack, fused] = await withBackend('wasm', () => [runConv(c, xv, fv, true, false), runConv(c, xv, fv, false, false), runConv(c, xv, fv, true, true)], {
      threads: 2,
    });
    expectExact(own, xnnpack, `${c.name}: own conv vs XNNPACK`);
    expectNear(fused, ref.y, ref.mag, `${c.name}, fused kernel`);
  });
});

describe('Conv2DBackpropFilter on the own GEMM (wasm)', () => {
  it.each(CASES)('$name: near the float64 definition, and the same bits as the im2col product', async (c) => {
    const xv = mixedMagnitude(size(c.x), 7 + c.x[3], 1);
    const info = caseInfo(c);
    const dyShape: Shape4 = [c.x[0], info.outHeight, info.outWidth, c.f[3]];
    const dyv = mixedMagnitude(size(dyShape), 11, 1);
    // dW[a, q, ch, o] = Σ_{pixels} x[tap] · dy[pixel, o] in float64
    const want = new Float64Array(size(c.f));
    const mag = new Float64Array(size(c.f));
    forEachConvTerm(c, (xi, fi, yi) => {
      const t = xv[xi] * dyv[yi];
      want[fi] += t;
      mag[fi] += Math.abs(t);
    });
    const grad = (own: boolean) => {
      const prev = setOwnConvEnabled(own);
      try {
        return tf.tidy(() => conv2dBackpropFilterFast(tf.tensor4d(xv, c.x), tf.tensor4d(dyv, dyShape), info).dataSync() as Float32Array);
      } finally {
        setOwnConvEnabled(prev);
      }
    };
    const [kernel, im2colProduct] = await withBackend('wasm', () => [grad(true), grad(false)], { threads: 2 });
    expectNear(kernel, want, mag, c.name);
    expectExact(kernel, im2colProduct, `${c.name}: kernel vs im2col product`);
  });

  it('no output pixels (input smaller than the kernel, valid): dW is all zeros', async () => {
    const got = await withBackend('wasm', () =>
      tf.tidy(() => {
        // leave non-zero garbage in freed heap memory the output may reuse
        tf.dispose(tf.fill([3, 3, 3, 8], 7));
        const x = tf.ones([1, 2, 2, 3]);
        const dy = tf.zeros([1, 0, 0, 8]);
        const attrs = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 3, 8] };
        const dW = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [dW.shape, Array.from(dW.dataSync())] as const;
      }),
    );
    expect(got[0]).toEqual([3, 3, 3, 8]);
    expect(got[1]).toEqual(new Array(216).fill(0));
  });

  it('names the mismatch when dy does not fit the conv', async () => {
    await withBackend('wasm', () => {
      const x = tf.zeros([1, 6, 6, 3]);
      const dy = tf.zeros([1, 5, 6, 8]);
      expect(() =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 8] } as unknown as tf.NamedAttrMap),
      ).toThrow(/dy has shape \[1,5,6,8\], the conv of x \[1,6,6,3\] with filter \[3,3,3,8\] gives \[1,6,6,8\]/);
      tf.dispose([x, dy]);
    });
  });
});
