import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Conv2d,
  Embedding,
  FrozenBatchNorm2d,
  frozenAffine,
  GroupNorm,
  LayerNorm,
  Linear,
  Rng,
  seedEverything,
  xavierUniform_,
  fans,
} from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Direct NCHW-free reference convolution in float64 (PyTorch semantics: zero padding, dilation). */
function refConv(
  x: number[][][][], // [N][H][W][C]
  w: number[][][][], // [kh][kw][Cin][Cout]
  stride: number,
  pad: number,
  dil: number,
): number[][][][] {
  const N = x.length, H = x[0].length, W = x[0][0].length;
  const kh = w.length, kw = w[0].length, cin = w[0][0].length, cout = w[0][0][0].length;
  const Ho = Math.floor((H + 2 * pad - dil * (kh - 1) - 1) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - dil * (kw - 1) - 1) / stride) + 1;
  const out: number[][][][] = [];
  for (let n = 0; n < N; n++) {
    out.push([]);
    for (let i = 0; i < Ho; i++) {
      out[n].push([]);
      for (let j = 0; j < Wo; j++) {
        const v = new Array(cout).fill(0);
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++) {
            const y = i * stride - pad + a * dil, xx = j * stride - pad + b * dil;
            if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
            for (let c = 0; c < cin; c++) for (let o = 0; o < cout; o++) v[o] += x[n][y][xx][c] * w[a][b][c][o];
          }
        out[n][i].push(v);
      }
    }
  }
  return out;
}

function maxAbsDiff(a: unknown, b: unknown): number {
  const fa = (a as number[]).flat(4) as number[];
  const fb = (b as number[]).flat(4) as number[];
  expect(fa.length).toBe(fb.length);
  return fa.reduce((m, v, i) => Math.max(m, Math.abs(v - fb[i])), 0);
}

describe('nn primitives', () => {
  it('Linear computes x W^T + b with PyTorch default init bounds', () => {
    seedEverything(0);
    const lin = new Linear(50, 7);
    const w = lin.weight.dataSync();
    const bound = 1 / Math.sqrt(50);
    expect(Math.max(...Array.from(w).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(w).map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const x = tf.randomNormal([3, 2, 50]);
    const y = lin.forward(x);
    expect(y.shape).toEqual([3, 2, 7]);
    const ref = tf.add(tf.matMul(x.reshape([6, 50]), lin.weight), lin.bias!).reshape([3, 2, 7]);
    expect(maxAbsDiff(y.arraySync(), ref.arraySync())).toBeLessThan(1e-6);
    lin.dispose();
  });

  it.each([
    { k: 3, stride: 1, pad: 1, dil: 1 },
    { k: 3, stride: 2, pad: 1, dil: 1 },
    { k: 1, stride: 2, pad: 0, dil: 1 },
    { k: 7, stride: 2, pad: 3, dil: 1 },
    { k: 3, stride: 1, pad: 2, dil: 2 },
  ])('Conv2d matches a direct convolution (k=$k s=$stride p=$pad d=$dil)', ({ k, stride, pad, dil }) => {
    seedEverything(3);
    const conv = new Conv2d(3, 5, k, { stride, padding: pad, dilation: dil });
    const x = tf.randomNormal([2, 9, 11, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const y = conv.forward(x);
    const ref = refConv(x.arraySync() as number[][][][], conv.weight.arraySync() as number[][][][], stride, pad, dil);
    const b = conv.bias!.arraySync() as number[];
    const refB = ref.map((n) => n.map((r) => r.map((v) => v.map((z, o) => z + b[o]))));
    expect(y.shape).toEqual([2, refB[0].length, refB[0][0].length, 5]);
    expect(maxAbsDiff(y.arraySync(), refB)).toBeLessThan(1e-5);
    conv.dispose();
  });

  it('grouped Conv2d equals per-group convolutions', () => {
    const conv = new Conv2d(4, 6, 3, { padding: 1, groups: 2, bias: false });
    expect(conv.weight.shape).toEqual([3, 3, 2, 6]);
    const x = tf.randomNormal([1, 5, 5, 4]) as tf.Tensor4D;
    const y = conv.forward(x).arraySync() as number[][][][];
    const w = conv.weight.arraySync() as number[][][][];
    const x0 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 2]).arraySync() as number[][][][];
    const w0 = w.map((r) => r.map((c) => c.map((i) => i.slice(0, 3))));
    const ref0 = refConv(x0, w0, 1, 1, 1);
    expect(maxAbsDiff(y.map((n) => n.map((r) => r.map((v) => v.slice(0, 3)))), ref0)).toBeLessThan(1e-5);
    conv.dispose();
  });

  it('LayerNorm and GroupNorm normalise as PyTorch (biased variance, eps inside the sqrt)', () => {
    const ln = new LayerNorm(6);
    const x = tf.tensor2d([[1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 1]]);
    const y = ln.forward(x).arraySync() as number[][];
    const row = [1, 2, 3, 4, 5, 6];
    const mean = 3.5, v = row.reduce((s, z) => s + (z - mean) ** 2, 0) / 6;
    expect(y[0][0]).toBeCloseTo((1 - mean) / Math.sqrt(v + 1e-5), 5);

    const gn = new GroupNorm(2, 4);
    const xg = tf.randomNormal([2, 3, 3, 4]) as tf.Tensor4D;
    const yg = gn.forward(xg).arraySync() as number[][][][];
    const xa = xg.arraySync() as number[][][][];
    // Group 0 of image 1 = channels 0..1 over all pixels.
    const vals: number[] = [];
    for (const r of xa[1]) for (const p of r) vals.push(p[0], p[1]);
    const m = vals.reduce((s, z) => s + z, 0) / vals.length;
    const va = vals.reduce((s, z) => s + (z - m) ** 2, 0) / vals.length;
    expect(yg[1][2][1][1]).toBeCloseTo((xa[1][2][1][1] - m) / Math.sqrt(va + 1e-5), 4);
    ln.dispose();
    gn.dispose();
  });

  it('FrozenBatchNorm2d is x * w / sqrt(var + eps) + (b - mean * w / sqrt(var + eps))', () => {
    const bn = new FrozenBatchNorm2d(2);
    bn.loadStateDict(
      new Map([
        ['weight', tf.tensor([2, 0.5])],
        ['bias', tf.tensor([1, -1])],
        ['running_mean', tf.tensor([0.5, 2])],
        ['running_var', tf.tensor([4, 0.25])],
      ]),
    );
    const y = bn.forward(tf.tensor4d([[[[1, 3]]]])).dataSync();
    expect(y[0]).toBeCloseTo(((1 - 0.5) / Math.sqrt(4 + 1e-5)) * 2 + 1, 5);
    expect(y[1]).toBeCloseTo(((3 - 2) / Math.sqrt(0.25 + 1e-5)) * 0.5 - 1, 5);
    expect(bn.trainableVariables()).toHaveLength(0);
    // Gradient to the input: dy * w / sqrt(var + eps) per channel (the statistics are constants).
    const dy = tf.tensor4d([[[[0.3, -2]]]]);
    const [dx] = tf.grads((x: tf.Tensor) => bn.forward(x).mul(dy).sum())([tf.tensor4d([[[[1, 3]]]])]);
    const dxv = dx.dataSync();
    expect(dxv[0]).toBeCloseTo((0.3 * 2) / Math.sqrt(4 + 1e-5), 5);
    expect(dxv[1]).toBeCloseTo((-2 * 0.5) / Math.sqrt(0.25 + 1e-5), 5);
    expect(() => frozenAffine(tf.zeros([1, 2, 3]), tf.zeros([2]) as tf.Tensor1D, tf.zeros([3]) as tf.Tensor1D)).toThrow(/scale and shift must be \[3\]/);
    bn.dispose();
  });

  it('Embedding gathers rows', () => {
    const e = new Embedding(5, 3);
    const y = e.forward(tf.tensor2d([[4, 0]], [1, 2], 'int32'));
    expect(y.shape).toEqual([1, 2, 3]);
    expect((y.arraySync() as number[][][])[0][0]).toEqual((e.weight.arraySync() as number[][])[4]);
    e.dispose();
  });

  it('xavier_uniform uses fans of the PyTorch layout', () => {
    const lin = new Linear(30, 10);
    expect(fans('linear', lin.weight.shape)).toEqual({ fanIn: 30, fanOut: 10 });
    const conv = new Conv2d(8, 16, 3);
    expect(fans('conv2d', conv.weight.shape)).toEqual({ fanIn: 72, fanOut: 144 });
    xavierUniform_(lin.getParameter('weight'), 1, new Rng(5));
    const a = Math.sqrt(6 / 40);
    const w = Array.from(lin.weight.dataSync());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(a);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * a);
    lin.dispose();
    conv.dispose();
  });
});
