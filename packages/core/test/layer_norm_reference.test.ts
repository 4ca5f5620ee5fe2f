// layerNorm / LayerNorm (hand-written gradient, nn/norm_ops.ts) against a float64 reference of torch.nn.LayerNorm
// (values and the gradients of x, weight and bias).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LayerNorm, layerNorm } from '../src/index';
import { RTOL, expectClose } from '@detr/core/testing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** float64 LayerNorm over the last axis and its gradients for upstream dy. */
function reference(x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array, c: number, eps: number) {
  const rows = x.length / c;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(c);
  const db = new Float64Array(c);
  for (let r = 0; r < rows; r++) {
    const o = r * c;
    let mean = 0;
    for (let k = 0; k < c; k++) mean += x[o + k] / c;
    let v = 0;
    for (let k = 0; k < c; k++) v += (x[o + k] - mean) ** 2 / c;
    const rs = 1 / Math.sqrt(v + eps);
    const xh = Array.from({ length: c }, (_, k) => (x[o + k] - mean) * rs);
    let m1 = 0;
    let m2 = 0;
    for (let k = 0; k < c; k++) {
      y[o + k] = xh[k] * w[k] + b[k];
      dw[k] += dy[o + k] * xh[k];
      db[k] += dy[o + k];
      m1 += (dy[o + k] * w[k]) / c;
      m2 += (dy[o + k] * w[k] * xh[k]) / c;
    }
    for (let k = 0; k < c; k++) dx[o + k] = rs * (dy[o + k] * w[k] - m1 - xh[k] * m2);
  }
  return { y, dx, dw, db };
}

describe('layerNorm against a float64 reference', () => {
  it('values and gradients of x, weight and bias, through the op and through the LayerNorm module', () => {
    const [c, eps] = [12, 1e-5];
    const x = tf.randomNormal([2, 5, c], 0.5, 2, 'float32', 1);
    const w = tf.randomNormal([c], 1, 0.3, 'float32', 2) as tf.Tensor1D;
    const b = tf.randomNormal([c], 0, 0.3, 'float32', 3) as tf.Tensor1D;
    const dy = tf.randomNormal([2, 5, c], 0, 1, 'float32', 4);
    const ref = reference(x.dataSync() as Float32Array, w.dataSync() as Float32Array, b.dataSync() as Float32Array, dy.dataSync() as Float32Array, c, eps);
    const y = layerNorm(x, w, b, eps);
    expectClose(y, ref.y, RTOL.activation, 'y');
    const [dx, dw, db] = tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => layerNorm(a, ww, bb, eps).mul(dy).sum())([x, w, b]);
    expectClose(dx, ref.dx, RTOL.grad, 'dx');
    expectClose(dw, ref.dw, RTOL.grad, 'dweight');
    expectClose(db, ref.db, RTOL.grad, 'dbias');

    const m = new LayerNorm(c, eps);
    m.getParameter('weight').assign(w);
    m.getParameter('bias').assign(b);
    const ym = m.forward(x);
    expect(Array.from(ym.dataSync())).toEqual(Array.from(y.dataSync()));
    const g = tf.variableGrads(() => m.forward(x).mul(dy).sum() as tf.Scalar, [m.weight, m.bias]).grads;
    expectClose(g[m.weight.name], ref.dw, RTOL.grad, 'module dweight');
    expectClose(g[m.bias.name], ref.db, RTOL.grad, 'module dbias');
    tf.dispose([x, w, b, dy, y, dx, dw, db, ym, ...Object.values(g)]);
    m.dispose();
  });
});
