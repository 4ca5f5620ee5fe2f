/**
 * ops/conv2d forward values (PyTorch conv2d semantics: symmetric padding, stride, dilation, groups,
 * NHWC/HWIO) against an independent float64 loop convolution, on cpu and wasm, for both dilated-conv
 * methods; subsample2d; and the errors for bad input. Tolerance: activations rtol 1e-5.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose } from '@detr/core/testing';
import { conv2d, dilatedConvSpaceToBatch, subsample2d } from '../src/ops/conv';
import { installFastKernels, withBackend } from '../src/backend/index';
import { type Shape4, convRef, seeded } from './ops-reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

const CASES: { name: string; x: Shape4; w: Shape4; s: [number, number]; p: [number, number]; d: [number, number]; g: number }[] = [
  { name: '3x3 s1 p1', x: [2, 6, 5, 3], w: [3, 3, 3, 4], s: [1, 1], p: [1, 1], d: [1, 1], g: 1 },
  { name: '7x7 s2 p3', x: [1, 11, 10, 3], w: [7, 7, 3, 2], s: [2, 2], p: [3, 3], d: [1, 1], g: 1 },
  { name: 'asymmetric 3x1 s(2,1) p(1,0)', x: [1, 7, 6, 2], w: [3, 1, 2, 3], s: [2, 1], p: [1, 0], d: [1, 1], g: 1 },
  { name: '3x3 dil2 p2', x: [1, 9, 8, 2], w: [3, 3, 2, 3], s: [1, 1], p: [2, 2], d: [2, 2], g: 1 },
  { name: '3x3 dil(3,2) p(1,2) s2', x: [1, 10, 9, 2], w: [3, 3, 2, 2], s: [2, 2], p: [1, 2], d: [3, 2], g: 1 },
  { name: 'groups 2', x: [1, 5, 5, 4], w: [3, 3, 2, 6], s: [1, 1], p: [1, 1], d: [1, 1], g: 2 },
  { name: 'depthwise m=2', x: [1, 5, 6, 3], w: [3, 3, 1, 6], s: [2, 2], p: [1, 1], d: [1, 1], g: 3 },
  { name: 'depthwise dil2', x: [1, 7, 6, 2], w: [3, 3, 1, 2], s: [1, 1], p: [2, 2], d: [2, 2], g: 2 },
];

describe('conv2d forward', () => {
  it.each(CASES)('$name matches the float64 loop convolution on cpu and wasm', async (c) => {
    const xv = Float32Array.from(seeded(c.x.reduce((p, v) => p * v, 1), 1));
    const wv = Float32Array.from(seeded(c.w.reduce((p, v) => p * v, 1), 2));
    const ref = convRef(Float64Array.from(xv), c.x, Float64Array.from(wv), c.w, { stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
    for (const backend of ['cpu', 'wasm'] as const) {
      for (const dilatedMethod of ['space-to-batch', 'native'] as const) {
        const y = await withBackend(backend, () =>
          tf.tidy(() => {
            const out = conv2d(tf.tensor4d(xv, c.x), tf.tensor4d(wv, c.w), { stride: c.s, padding: c.p, dilation: c.d, groups: c.g, dilatedMethod });
            return { shape: out.shape, values: out.dataSync() as Float32Array };
          }), { threads: 2 },
        );
        expect(y.shape).toEqual(ref.shape);
        expectClose(y.values, ref.y, RTOL.activation, `${c.name} (${backend}, ${dilatedMethod})`);
      }
    }
  });

  it('dilatedConvSpaceToBatch and subsample2d against direct definitions', async () => {
    await withBackend('cpu', () =>
      tf.tidy(() => {
        const x = tf.tensor4d(Float32Array.from(seeded(1 * 9 * 7 * 2, 3)), [1, 9, 7, 2]);
        const w = tf.tensor4d(Float32Array.from(seeded(3 * 2 * 2 * 2, 4)), [3, 2, 2, 2]);
        expectClose(dilatedConvSpaceToBatch(x, w, 3, 2), tf.conv2d(x, w, 1, 'valid', 'NHWC', [3, 2]), RTOL.activation, 'space-to-batch vs tf dilated conv');
        const y = tf.range(0, 2 * 5 * 7).reshape([1, 5, 7, 2]) as tf.Tensor4D;
        const sub = subsample2d(y, 2, 3); // rows 0,2,4; cols 0,3,6
        expect(sub.shape).toEqual([1, 3, 3, 2]);
        const expected: number[] = [];
        for (const r of [0, 2, 4]) for (const c of [0, 3, 6]) for (const ch of [0, 1]) expected.push((r * 7 + c) * 2 + ch);
        expect(Array.from(sub.dataSync())).toEqual(expected);
      }),
    );
  });

  it('reports bad input with the shapes involved', async () => {
    await withBackend('cpu', () =>
      tf.tidy(() => {
        const x = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
        expect(() => conv2d(x, tf.zeros([3, 3, 3, 2]) as tf.Tensor4D)).toThrow(/filter \[3,3,3,2\] expects 3 input channels with groups=1, input \[1,5,5,4\] has 4/);
        expect(() => conv2d(x, tf.zeros([3, 3, 2, 3]) as tf.Tensor4D, { groups: 2 })).toThrow(/groups=2 must divide the input channels \(4\) and output channels \(3\)/);
        expect(() => conv2d(x, tf.zeros([7, 7, 4, 2]) as tf.Tensor4D)).toThrow(/padded input 5x5 is smaller than the dilated kernel 7x7/);
        expect(() => conv2d(x, tf.zeros([3, 3, 4, 2]) as tf.Tensor4D, { stride: 0 })).toThrow(/stride must be integers >= 1, got \[0,0\]/);
        expect(() => conv2d(tf.zeros([5, 5, 4]) as unknown as tf.Tensor4D, tf.zeros([3, 3, 4, 2]) as tf.Tensor4D)).toThrow(/input must be NHWC rank 4, got shape \[5,5,4\]/);
      }),
    );
  });
});
