/**
 * Conv2D gradient override (backend/conv2d_grad.ts) against references that do not use it:
 *  - non-dilated ResNet combinations: tfjs's own Conv2DBackpropInput/Filter kernels on the cpu backend
 *    (fast gradients switched off), compared with the override on cpu and on wasm (2 threads);
 *  - dilated (DC5: 3x3, dilation 2, padding 2; also with stride 2): float64 central finite differences
 *    of an independent loop convolution, for both dilated-conv methods of ops/conv.ts.
 * Also the depthwise and conv2dTranspose gradient overrides on wasm against the cpu kernels.
 * Tolerance: gradients rtol 1e-4 (fixtures/parity/README.md section 2).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose } from '@detr/core/testing';
import { conv2d, type Conv2dOptions } from '../src/ops/conv';
import { installFastKernels, overrideActive, setFastGradientsEnabled, withBackend } from '../src/backend/index';
import { type Shape4, convRef, dot, finiteDifferences, seeded } from './ops-reference';
import { conv2dInfo } from '../src/backend/conv2d_grad';
import { im2col } from '../src/backend/im2col';

const f32 = (v: Float64Array): Float64Array => Float64Array.from(Float32Array.from(v));

interface Case {
  name: string;
  x: Shape4;
  k: [number, number];
  cout: number;
  stride: number;
  padding: number;
  dilation: number;
  groups?: number;
}

// ResNet's convolutions (torchvision/detectron2 ResNet-50): 1x1 s1/s2, 3x3 s1/s2 p1, 7x7 s2 p3, DC5 3x3 dil 2 p2.
// Sizes are odd/even mixes so that (H + 2p - k) is not always a multiple of the stride.
const CASES: Case[] = [
  { name: '1x1 s1', x: [2, 7, 6, 5], k: [1, 1], cout: 4, stride: 1, padding: 0, dilation: 1 },
  { name: '1x1 s2', x: [2, 7, 6, 5], k: [1, 1], cout: 4, stride: 2, padding: 0, dilation: 1 },
  { name: '3x3 s1 p1', x: [2, 8, 7, 3], k: [3, 3], cout: 4, stride: 1, padding: 1, dilation: 1 },
  { name: '3x3 s2 p1', x: [2, 8, 7, 3], k: [3, 3], cout: 4, stride: 2, padding: 1, dilation: 1 },
  { name: '7x7 s2 p3', x: [1, 12, 11, 3], k: [7, 7], cout: 4, stride: 2, padding: 3, dilation: 1 },
  { name: '3x3 s2 p0 (cut border)', x: [1, 8, 8, 2], k: [3, 3], cout: 3, stride: 2, padding: 0, dilation: 1 },
];

interface Data {
  x: Float64Array;
  w: Float64Array;
  r: Float64Array;
  wShape: Shape4;
  yShape: Shape4;
}

function makeData(c: Case, seed: number): Data {
  const groups = c.groups ?? 1;
  const wShape: Shape4 = [c.k[0], c.k[1], c.x[3] / groups, c.cout];
  const x = f32(seeded(c.x.reduce((p, v) => p * v, 1), seed));
  const w = f32(seeded(wShape.reduce((p, v) => p * v, 1), seed + 1));
  const { shape: yShape } = convRef(x, c.x, w, wShape, opts(c));
  const r = f32(seeded(yShape.reduce((p, v) => p * v, 1), seed + 2));
  return { x, w, r, wShape, yShape };
}

function opts(c: Case) {
  return { stride: [c.stride, c.stride] as [number, number], padding: [c.padding, c.padding] as [number, number], dilation: [c.dilation, c.dilation] as [number, number], groups: c.groups ?? 1 };
}

/** dL/dx, dL/dW of L = Σ conv2d(x, W) ⊙ R through tfjs on the active backend. */
function tfGrads(c: Case, d: Data, extra: Partial<Conv2dOptions> = {}): [Float32Array, Float32Array] {
  return tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(d.x), c.x);
    const w = tf.tensor4d(Float32Array.from(d.w), d.wShape);
    const r = tf.tensor4d(Float32Array.from(d.r), d.yShape);
    const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, ...extra }), r));
    const [gx, gw] = tf.grads(loss)([x, w]);
    return [gx.dataSync() as Float32Array, gw.dataSync() as Float32Array];
  });
}

/** Reference gradients from float64 finite differences of the loop convolution. */
function fdGrads(c: Case, d: Data): [Float64Array, Float64Array] {
  const o = opts(c);
  const gx = finiteDifferences((xv) => dot(convRef(xv, c.x, d.w, d.wShape, o).y, d.r), d.x);
  const gw = finiteDifferences((wv) => dot(convRef(d.x, c.x, wv, d.wShape, o).y, d.r), d.w);
  return [gx, gw];
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

afterAll(() => {
  setFastGradientsEnabled(true);
});

describe('Conv2D gradient override', () => {
  it.each(CASES)('$name: override on cpu and wasm matches tfjs backprop kernels on cpu', async (c) => {
    const d = makeData(c, 11);
    const prev = setFastGradientsEnabled(false);
    const ref = await withBackend('cpu', () => {
      expect(overrideActive('Conv2D')).toBe(false);
      return tfGrads(c, d);
    });
    setFastGradientsEnabled(prev);
    const onCpu = await withBackend('cpu', () => {
      expect(overrideActive('Conv2D')).toBe(true);
      return tfGrads(c, d);
    });
    const onWasm = await withBackend('wasm', () => tfGrads(c, d), { threads: 2 });
    for (const [label, got] of [['cpu', onCpu], ['wasm', onWasm]] as const) {
      expectClose(got[0], ref[0], RTOL.grad, `${c.name} dx (${label})`);
      expectClose(got[1], ref[1], RTOL.grad, `${c.name} dW (${label})`);
    }
  });

  const DILATED: Case[] = [
    { name: '3x3 dil2 p2 (DC5)', x: [1, 7, 6, 2], k: [3, 3], cout: 3, stride: 1, padding: 2, dilation: 2 },
    { name: '3x3 dil2 p1 (odd size)', x: [1, 8, 7, 2], k: [3, 3], cout: 2, stride: 1, padding: 1, dilation: 2 },
    { name: '3x3 dil2 p2 s2', x: [1, 7, 7, 2], k: [3, 3], cout: 2, stride: 2, padding: 2, dilation: 2 },
  ];
  it.each(DILATED)('$name: both dilated-conv methods on cpu and wasm match float64 finite differences', async (c) => {
    const d = makeData(c, 5);
    const [rx, rw] = fdGrads(c, d);
    for (const backend of ['cpu', 'wasm'] as const) {
      for (const method of ['space-to-batch', 'native'] as const) {
        const [gx, gw] = await withBackend(backend, () => tfGrads(c, d, { dilatedMethod: method }), { threads: 2 });
        expectClose(gx, rx, RTOL.grad, `${c.name} dx (${backend}, ${method})`);
        expectClose(gw, rw, RTOL.grad, `${c.name} dW (${backend}, ${method})`);
      }
    }
  });

  it('space-to-batch dilation also works where only the upstream Conv2D gradient is used', async () => {
    const c = DILATED[0];
    const d = makeData(c, 8);
    const [rx, rw] = fdGrads(c, d);
    const prev = setFastGradientsEnabled(false);
    try {
      const [gx, gw] = await withBackend('cpu', () => tfGrads(c, d)); // 'auto' picks space-to-batch here
      expectClose(gx, rx, RTOL.grad, 'dx (upstream gradients)');
      expectClose(gw, rw, RTOL.grad, 'dW (upstream gradients)');
    } finally {
      setFastGradientsEnabled(prev);
    }
  });

  it.each([
    { name: 'groups 2', x: [1, 6, 5, 4] as Shape4, k: [3, 3] as [number, number], cout: 6, stride: 1, padding: 1, dilation: 1, groups: 2 },
    { name: 'depthwise (groups = Cin), m = 2, s2', x: [1, 7, 6, 3] as Shape4, k: [3, 3] as [number, number], cout: 6, stride: 2, padding: 1, dilation: 1, groups: 3 },
    { name: 'depthwise dil2', x: [1, 7, 6, 2] as Shape4, k: [3, 3] as [number, number], cout: 2, stride: 1, padding: 2, dilation: 2, groups: 2 },
  ])('$name: gradients on wasm and cpu match float64 finite differences', async (c) => {
    const d = makeData(c, 21);
    const [rx, rw] = fdGrads(c, d);
    for (const backend of ['cpu', 'wasm'] as const) {
      const [gx, gw] = await withBackend(backend, () => tfGrads(c, d), { threads: 2 });
      expectClose(gx, rx, RTOL.grad, `${c.name} dx (${backend})`);
      expectClose(gw, rw, RTOL.grad, `${c.name} dW (${backend})`);
    }
  });
});

describe('conv2dTranspose gradient (Conv2DBackpropInput override)', () => {
  it('on wasm matches the cpu kernels', async () => {
    const dyShape: Shape4 = [2, 4, 4, 3];
    const fShape: Shape4 = [3, 3, 2, 3]; // [kh, kw, outChannels of the transpose, inChannels]
    const outShape: [number, number, number, number] = [2, 8, 8, 2];
    const dyv = Float32Array.from(seeded(2 * 4 * 4 * 3, 3));
    const fv = Float32Array.from(seeded(3 * 3 * 2 * 3, 4));
    const rv = Float32Array.from(seeded(2 * 8 * 8 * 2, 5));
    const run = () =>
      tf.tidy(() => {
        const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape, 2, 'same'), tf.tensor4d(rv, outShape)));
        return tf.grads(loss)([tf.tensor4d(dyv, dyShape), tf.tensor4d(fv, fShape)]).map((g) => g.dataSync() as Float32Array);
      });
    const prev = setFastGradientsEnabled(false);
    const ref = await withBackend('cpu', run);
    setFastGradientsEnabled(prev);
    const got = await withBackend('wasm', run, { threads: 2 });
    expectClose(got[0], ref[0], RTOL.grad, 'd input');
    expectClose(got[1], ref[1], RTOL.grad, 'd filter');
  });
});

describe('im2col from tfjs ops (the filter gradient patch matrix off wasm)', () => {
  it.each([
    { name: '7x7 s2 p3', x: [2, 11, 12, 3], k: 7, stride: 2, pad: 3 as const, dil: 1 },
    { name: '3x3 s1 same', x: [2, 6, 5, 4], k: 3, stride: 1, pad: 'same' as const, dil: 1 },
    { name: '3x3 s2 same (asymmetric padding)', x: [1, 8, 7, 2], k: 3, stride: 2, pad: 'same' as const, dil: 1 },
    { name: '3x3 dil2 p2 s2', x: [1, 7, 7, 3], k: 3, stride: 2, pad: 2 as const, dil: 2 },
    { name: '3x3 s2 valid (cut border)', x: [3, 9, 8, 5], k: 3, stride: 2, pad: 'valid' as const, dil: 1 },
  ])('$name: every entry is the input pixel of its tap, 0 in the padding', async (c) => {
    const n = c.x.reduce((p, v) => p * v, 1);
    const data = Float32Array.from(seeded(n, 3));
    const info = conv2dInfo(c.x, [c.k, c.k, c.x[3], 4], { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', dilations: c.dil });
    const [cols, shape] = await withBackend('cpu', () =>
      tf.tidy(() => {
        const t = tf.transpose(im2col(tf.tensor4d(data, c.x as Shape4), info)); // [kh·kw·Cin, N·Ho·Wo]
        return [t.dataSync().slice(), t.shape] as const;
      }),
    );
    expect(shape).toEqual([c.k * c.k * c.x[3], c.x[0] * info.outHeight * info.outWidth]);
    // every entry against the definition: row (a·kw + b)·Cin + ch, column (n·Ho + i)·Wo + j
    const rows = c.x[0] * info.outHeight * info.outWidth;
    const want = new Float32Array(cols.length);
    for (let a = 0; a < c.k; a++)
      for (let b = 0; b < c.k; b++)
        for (let ch = 0; ch < c.x[3]; ch++)
          for (let img = 0; img < c.x[0]; img++)
            for (let i = 0; i < info.outHeight; i++)
              for (let j = 0; j < info.outWidth; j++) {
                const y = i * c.stride + a * c.dil - info.padInfo.top;
                const xx = j * c.stride + b * c.dil - info.padInfo.left;
                const inside = y >= 0 && y < c.x[1] && xx >= 0 && xx < c.x[2];
                want[((a * c.k + b) * c.x[3] + ch) * rows + (img * info.outHeight + i) * info.outWidth + j] = inside ? data[((img * c.x[1] + y) * c.x[2] + xx) * c.x[3] + ch] : 0;
              }
    expect(Array.from(cols)).toEqual(Array.from(want));
  });
});
