import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Conv2d, GroupNorm, LayerNorm, Linear, Module } from '@detr/core';
import { AdamW, backboneLrFactor, clipGradNorm, getDefaultOptimizerParams } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

class Tiny extends Module {
  constructor() {
    super();
    const backbone = this.registerModule('backbone', new (class Backbone extends Module {})());
    (backbone as unknown as { registerModule: (n: string, m: Module) => void }).registerModule('conv', new Conv2d(3, 4, 3));
    this.registerModule('norm', new LayerNorm(4));
    this.registerModule('gn', new GroupNorm(2, 4));
    this.registerModule('head', new Linear(4, 2));
  }
}

describe('optimizer parameter groups (detectron2 get_default_optimizer_params)', () => {
  it('gives norm layers no weight decay and the backbone lr x0.1, merged by hyper-parameters', () => {
    const m = new Tiny();
    const groups = getDefaultOptimizerParams({ model: m, base_lr: 1e-4, weight_decay: 1e-4, weight_decay_norm: 0, lr_factor_func: backboneLrFactor(0.1) });
    const byName = new Map(groups.flatMap((g) => g.params.map((p) => [p.name, g])));
    expect(byName.get('backbone.conv.weight')!.lr).toBeCloseTo(1e-5);
    expect(byName.get('backbone.conv.weight')!.weight_decay).toBe(1e-4);
    expect(byName.get('norm.weight')!.weight_decay).toBe(0);
    expect(byName.get('gn.bias')!.weight_decay).toBe(0);
    expect(byName.get('head.bias')!.weight_decay).toBe(1e-4);
    expect(byName.get('head.weight')!.lr).toBe(1e-4);
    expect(groups).toHaveLength(3); // backbone, norm, rest
    m.dispose();
  });
});

describe('AdamW', () => {
  it('matches torch.optim.AdamW formulas (float64 reference over 5 steps, two groups)', () => {
    const p1 = tf.variable(tf.tensor1d([0.5, -1.5, 2.0]));
    const p2 = tf.variable(tf.tensor1d([1.0, 0.25]));
    const opt = new AdamW({
      params: [
        { params: [{ name: 'a', variable: p1 }], lr: 0.01, weight_decay: 0.1, initial_lr: 0.01 },
        { params: [{ name: 'b', variable: p2 }], lr: 0.001, weight_decay: 0, initial_lr: 0.001 },
      ],
    });
    const before = tf.memory().numTensors;
    const probe = new AdamW({ params: [{ params: [{ name: 'a', variable: p1 }], lr: 0.01, weight_decay: 0, initial_lr: 0.01 }] });
    expect(tf.memory().numTensors - before).toBe(2); // exactly the two moment variables
    probe.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const ref = [Array.from(p1.dataSync(), Number), Array.from(p2.dataSync(), Number)];
    const m = ref.map((p) => p.map(() => 0)), v = ref.map((p) => p.map(() => 0));
    const lrs = [0.01, 0.001], wds = [0.1, 0];
    for (let t = 1; t <= 5; t++) {
      const g = ref.map((p) => p.map((x, i) => Math.sin(x * 3 + t + i)));
      opt.step({ [p1.name]: tf.tensor1d(g[0]), [p2.name]: tf.tensor1d(g[1]) });
      for (let k = 0; k < 2; k++) {
        for (let i = 0; i < ref[k].length; i++) {
          ref[k][i] *= 1 - lrs[k] * wds[k];
          m[k][i] = 0.9 * m[k][i] + 0.1 * g[k][i];
          v[k][i] = 0.999 * v[k][i] + 0.001 * g[k][i] ** 2;
          const mh = m[k][i] / (1 - 0.9 ** t), vh = v[k][i] / (1 - 0.999 ** t);
          ref[k][i] -= (lrs[k] * mh) / (Math.sqrt(vh) + 1e-8);
        }
      }
    }
    Array.from(p1.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(ref[0][i], 5));
    Array.from(p2.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(ref[1][i], 5));
    // State round trip.
    const st = opt.stateTensors();
    expect([...st.keys()]).toEqual(['exp_avg.a', 'exp_avg_sq.a', 'exp_avg.b', 'exp_avg_sq.b']);
    expect(st.get('exp_avg.b')!.dataSync()[0]).toBeCloseTo(m[1][0], 5);
    opt.dispose();
  });
});

describe('clipGradNorm', () => {
  it('scales all gradients by max_norm / (total + 1e-6) when above max_norm', () => {
    const g = { a: tf.tensor1d([3, 0]), b: tf.tensor1d([0, 4]) };
    const { totalNorm, grads } = clipGradNorm(g, 1);
    expect(totalNorm).toBeCloseTo(5);
    expect(Array.from(grads.a.dataSync())[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    expect(Array.from(grads.b.dataSync())[1]).toBeCloseTo(4 / (5 + 1e-6), 6);
    const small = { a: tf.tensor1d([0.1]) };
    const r = clipGradNorm(small, 1);
    expect(r.grads.a).toBe(small.a);
  });
});
