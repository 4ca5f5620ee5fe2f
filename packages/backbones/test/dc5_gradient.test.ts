/**
 * DC5's gradient: a small res5-like stage built as detectron2 builds a dilated res5 (first block stride
 * 1 with a projection shortcut, 3x3 convs with dilation 2 and padding 2), checked element by element
 * against central finite differences of an independent float64 re-implementation (no tfjs), for the
 * input and every conv weight. FrozenBN statistics are random so a wrong norm would show. (The dilated
 * conv op is @detr/core's; this checks DC5's res5 through it.)
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, installFastKernels, setFastGradientsEnabled } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { BottleneckBlock, type ConvWithNorm } from '../src/index';
import { bottleneckParams, toArray4 } from './reference/from_modules';
import { type Array4, type BottleneckRef, bottleneckRef } from './reference/resnet_reference';

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

afterAll(() => {
  setFastGradientsEnabled(true);
});

function randomizeFrozenBN(conv: ConvWithNorm, rng: Rng): void {
  const norm = conv.norm as unknown as { weight: tf.Variable; bias: tf.Variable; runningMean: tf.Variable; runningVar: tf.Variable };
  const c = conv.outChannels;
  tf.tidy(() => {
    norm.weight.assign(tf.tensor1d(rng.uniformArray(c, 0.6, 1.4)));
    norm.bias.assign(tf.tensor1d(rng.uniformArray(c, -0.2, 0.2)));
    norm.runningMean.assign(tf.tensor1d(rng.uniformArray(c, -0.2, 0.2)));
    norm.runningVar.assign(tf.tensor1d(rng.uniformArray(c, 0.6, 1.4)));
  });
}

function convsOf(block: BottleneckBlock): [string, ConvWithNorm][] {
  const out: [string, ConvWithNorm][] = [];
  if (block.shortcut) out.push(['shortcut', block.shortcut]);
  out.push(['conv1', block.conv1], ['conv2', block.conv2], ['conv3', block.conv3]);
  return out;
}

function stageRef(x: Array4, params: BottleneckRef[]): Array4 {
  return params.reduce((h, p) => bottleneckRef(h, p), x);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe('DC5 res5 gradient', () => {
  // Both ways @detr/core computes a dilated conv: space-to-batch with tfjs's gradients (fast gradients
  // off) and the native dilated conv with core's Conv2D gradient override (on, as in training).
  // Dilation 1 is the control: the same check on an ordinary conv.
  it.each([
    [2, true],
    [2, false],
    [1, true],
  ])('input and conv-weight gradients of a stage with dilation %i (fast gradients %s) match float64 central differences', (dilation, fast) => {
    setFastGradientsEnabled(fast);
    const rng = new Rng(5);
    const blocks = [
      new BottleneckBlock({ in_channels: 6, out_channels: 8, bottleneck_channels: 4, stride: 1, dilation }),
      new BottleneckBlock({ in_channels: 8, out_channels: 8, bottleneck_channels: 4, stride: 1, dilation }),
    ];
    for (const block of blocks) for (const [, conv] of convsOf(block)) randomizeFrozenBN(conv, rng);
    expect(blocks[0].conv2.dilation).toEqual([dilation, dilation]);
    expect(blocks[0].conv2.padding).toEqual([dilation, dilation]);

    const xShape: [number, number, number, number] = [1, 5, 6, 6];
    const x = tf.variable(tf.tensor4d(rng.normalArray(5 * 6 * 6), xShape));
    const upstreamValues = rng.normalArray(5 * 6 * 8);
    const upstream = tf.tensor4d(upstreamValues, [1, 5, 6, 8]);
    const weights = blocks.flatMap((block, b) => convsOf(block).map(([convName, conv]) => ({ block: b, convName, conv })));

    // Autodiff (tfjs, float32): d sum(stage(x) * upstream) / d{x, conv weights}.
    const loss = () =>
      tf.tidy(() => {
        let h = x as tf.Tensor4D;
        for (const block of blocks) h = block.forward(h);
        return h.mul(upstream).sum() as tf.Scalar;
      });
    const { value, grads } = tf.variableGrads(loss, [x, ...weights.map((w) => w.conv.weight)]);

    // Reference: the same function in float64, differentiated numerically.
    const u = Float64Array.from(upstreamValues);
    const params = blocks.map(bottleneckParams);
    const x64 = toArray4(x);
    const f = () => dot(stageRef(x64, params).data, u);
    expect(Math.abs(value.dataSync()[0] - f())).toBeLessThan(1e-4 * Math.abs(f()) + 1e-4);
    const eps = 1e-6;
    const numericGrad = (target: Float64Array): Float64Array => {
      const g = new Float64Array(target.length);
      for (let i = 0; i < target.length; i++) {
        const keep = target[i];
        target[i] = keep + eps;
        const plus = f();
        target[i] = keep - eps;
        const minus = f();
        target[i] = keep;
        g[i] = (plus - minus) / (2 * eps);
      }
      return g;
    };

    expectClose(grads[x.name], numericGrad(x64.data), RTOL.grad, `d/d input (dilation ${dilation}, fast ${fast})`);
    for (const { block, convName, conv } of weights) {
      const target = params[block][convName as 'shortcut' | 'conv1' | 'conv2' | 'conv3']!.weight.data;
      expectClose(grads[conv.weight.name], numericGrad(target), RTOL.grad, `d/d res5.${block}.${convName}.weight (dilation ${dilation}, fast ${fast})`);
    }
    tf.dispose([x, upstream, value, ...Object.values(grads)]);
    for (const block of blocks) block.dispose();
  });
});
