// layerNorm / FusedLayerNorm (hand-written gradient) against a float64 reference of torch.nn.LayerNorm
// and against tfjs's autodiff of @detr/core's LayerNorm (values bit-identical, gradients close).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LayerNorm } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { FusedLayerNorm, layerNorm } from '../src/index';

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

describe('layerNorm with a hand-written gradient', () => {
  it('matches float64 LayerNorm values and gradients, and core LayerNorm bit for bit forward', () => {
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

    const core = new LayerNorm(c, eps);
    const fused = new FusedLayerNorm(c, eps);
    for (const m of [core, fused]) {
      m.getParameter('weight').assign(w);
      m.getParameter('bias').assign(b);
    }
    const yc = core.forward(x);
    expect(Array.from(fused.forward(x).dataSync())).toEqual(Array.from(yc.dataSync()));
    expect([...fused.stateDict('torch').keys()]).toEqual([...core.stateDict('torch').keys()]);
    const gc = tf.variableGrads(() => core.forward(x).mul(dy).sum() as tf.Scalar, [core.weight, core.bias]).grads;
    const gf = tf.variableGrads(() => fused.forward(x).mul(dy).sum() as tf.Scalar, [fused.weight, fused.bias]).grads;
    expectClose(gf[fused.weight.name], gc[core.weight.name], RTOL.grad, 'dweight vs autodiff');
    expectClose(gf[fused.bias.name], gc[core.bias.name], RTOL.grad, 'dbias vs autodiff');
    tf.dispose([x, w, b, dy, y, dx, dw, db, yc, ...Object.values(gc), ...Object.values(gf)]);
    core.dispose();
    fused.dispose();
  });

  it('rejects a weight of the wrong size', () => {
    const x = tf.zeros([2, 4]);
    expect(() => layerNorm(x, tf.ones([3]), tf.zeros([4]), 1e-5)).toThrow(/weight and bias must be \[4\]/);
    x.dispose();
  });
});
