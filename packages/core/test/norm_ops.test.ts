import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupNorm, layerNorm } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The same normalisations by tfjs autodiff of plain ops (the reference for values and gradients). */
function layerNormRef(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(w).add(b);
}
function groupNormRef(x: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor, g: number, eps: number): tf.Tensor {
  const [n, h, wd, c] = x.shape;
  const xg = x.reshape([n, h * wd, g, c / g]);
  const { mean, variance } = tf.moments(xg, [1, 3], true);
  return xg.sub(mean).mul(tf.rsqrt(variance.add(eps))).reshape([n, h, wd, c]).mul(w).add(b);
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a.sub(b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}

describe('norm ops with hand-written gradients', () => {
  it('layerNorm: same values and gradients (x, weight, bias) as autodiff', () => {
    const x = tf.randomNormal([3, 5, 16], 0.5, 2, 'float32', 1);
    const w = tf.randomNormal([16], 1, 0.2, 'float32', 2);
    const b = tf.randomNormal([16], 0, 0.2, 'float32', 3);
    const up = tf.randomNormal([3, 5, 16], 0, 1, 'float32', 4);
    expect(maxRelDiff(layerNorm(x, w, b, 1e-5), layerNormRef(x, w, b, 1e-5))).toBe(0);
    const fused = tf.grads((xi, wi, bi) => layerNorm(xi, wi, bi, 1e-5).mul(up).sum())([x, w, b]);
    const ref = tf.grads((xi, wi, bi) => layerNormRef(xi, wi, bi, 1e-5).mul(up).sum())([x, w, b]);
    fused.forEach((g, i) => expect(maxRelDiff(g, ref[i])).toBeLessThan(1e-5));
  });

  it('groupNorm: same values and gradients (x, weight, bias) as autodiff, NHWC groups of consecutive channels', () => {
    const x = tf.randomNormal([2, 4, 3, 8], 0.3, 1.5, 'float32', 5) as tf.Tensor4D;
    const w = tf.randomNormal([8], 1, 0.2, 'float32', 6);
    const b = tf.randomNormal([8], 0, 0.2, 'float32', 7);
    const up = tf.randomNormal([2, 4, 3, 8], 0, 1, 'float32', 8);
    expect(maxRelDiff(groupNorm(x, w, b, 4, 1e-5), groupNormRef(x, w, b, 4, 1e-5))).toBe(0);
    const fused = tf.grads((xi, wi, bi) => groupNorm(xi as tf.Tensor4D, wi, bi, 4, 1e-5).mul(up).sum())([x, w, b]);
    const ref = tf.grads((xi, wi, bi) => groupNormRef(xi as tf.Tensor4D, wi, bi, 4, 1e-5).mul(up).sum())([x, w, b]);
    fused.forEach((g, i) => expect(maxRelDiff(g, ref[i])).toBeLessThan(1e-5));
  });

  it('groupNorm gradient matches central finite differences (float32, small input)', () => {
    const x = tf.randomNormal([1, 2, 2, 4], 0, 1, 'float32', 9) as tf.Tensor4D;
    const w = tf.tensor1d([1.2, 0.8, 1.0, 0.5]);
    const b = tf.zeros([4]);
    const up = tf.randomNormal([1, 2, 2, 4], 0, 1, 'float32', 10);
    const f = (xi: tf.Tensor) => groupNorm(xi as tf.Tensor4D, w, b, 2, 1e-5).mul(up).sum().dataSync()[0];
    const g = tf.grad((xi: tf.Tensor) => groupNorm(xi as tf.Tensor4D, w, b, 2, 1e-5).mul(up).sum())(x).dataSync();
    const xv = x.dataSync();
    const h = 1e-2;
    for (let i = 0; i < xv.length; i++) {
      const p = Float32Array.from(xv), m = Float32Array.from(xv);
      p[i] += h;
      m[i] -= h;
      const fd = (f(tf.tensor(p, x.shape)) - f(tf.tensor(m, x.shape))) / (2 * h);
      expect(Math.abs(fd - g[i])).toBeLessThan(2e-2 * Math.max(1, Math.abs(g[i])));
    }
  });

  it('rejects shapes that do not fit', () => {
    expect(() => groupNorm(tf.zeros([1, 2, 2, 6]) as tf.Tensor4D, tf.ones([6]), tf.zeros([6]), 4, 1e-5)).toThrow(/6 channels are not divisible by 4 groups/);
    expect(() => layerNorm(tf.zeros([2, 5]), tf.ones([4]), tf.zeros([4]), 1e-5)).toThrow(/weight and bias must be \[5\]/);
  });
});
