// H-Deformable-DETR training on the wasm backend (the training backend; the pure-JS cpu backend is for
// small forward checks): one step gives finite, non-zero gradients to every trainable parameter and
// none to the frozen stem; ~30 Adam steps on one tiny batch make every loss group fall, with a flat
// tensor count.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEverything, selectBackend } from '@detr/core';
import type { HDeformableDETR, HDetrBatch } from '../src/index';
import { buildTinyHDetr, tinyCriterion } from './tiny_model';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', threads: 1, log: () => {} });
});

afterAll(() => {
  tf.removeBackend('wasm');
});

function makeBatch(size: number, n: number): HDetrBatch {
  const targets = [
    { labels: Int32Array.from([0, 2]), boxes: Float32Array.from([0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.4]) },
    { labels: Int32Array.from([1]), boxes: Float32Array.from([0.5, 0.5, 0.4, 0.3]) },
  ].slice(0, n);
  return {
    images: tf.randomNormal([n, size, size, 3], 0, 1, 'float32', 21) as tf.Tensor4D,
    // Image 1 (when present) has 8 padded columns on the right.
    masks: tf.tidy(() => tf.stack(Array.from({ length: n }, (_, i) => tf.range(0, size).reshape([1, size]).greaterEqual(i === 1 ? size - 8 : size).tile([size, 1]))) as tf.Tensor3D),
    targets,
  };
}

function randomiseHeads(model: HDeformableDETR): void {
  let seed = 300;
  for (const [name, p] of model.namedParameters()) {
    if (!name.startsWith('backbone.')) tf.tidy(() => p.variable.assign(tf.randomNormal(p.shape, 0, 0.2, 'float32', ++seed)));
  }
}

describe('HDeformableDETR training step (wasm)', () => {
  it('gives finite non-zero gradients to every trainable parameter, none to the frozen stem', () => {
    expect(tf.getBackend()).toBe('wasm');
    seedEverything(11);
    const model = buildTinyHDetr({ criterion: tinyCriterion(), freeze_at: 1 }).train();
    // detrex's zero inits (last box layers, offsets, attention weights) block some paths at step 0.
    randomiseHeads(model);
    const batch = makeBatch(48, 2);
    const trainable = model.trainableVariables();
    const all = model.namedParameters().map(([n]) => n);
    // freeze_at=1: only the stem is frozen (detectron2 ResNet.freeze).
    expect(all.filter((n) => !trainable.some((t) => t.name === n))).toEqual(all.filter((n) => n.startsWith('backbone.stem.')));
    expect(all.filter((n) => n.startsWith('backbone.stem.')).length).toBeGreaterThan(0);
    const { value, grads } = tf.variableGrads(() => tf.addN(Object.values(model.forwardTrain(batch))) as tf.Scalar, trainable.map((t) => t.variable));
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const bad: string[] = [];
    for (const { name, variable } of trainable) {
      const g = grads[variable.name];
      const [absSum, finite] = g ? tf.tidy(() => [g.abs().sum().dataSync()[0], g.isFinite().all().dataSync()[0]]) : [0, 1];
      if (!g || absSum === 0 || !finite) bad.push(`${name}: ${!g ? 'no gradient' : !finite ? 'non-finite' : 'zero'}`);
    }
    expect(bad).toEqual([]);
    tf.dispose([value, ...Object.values(grads), batch.images, batch.masks!]);
    model.dispose();
  });

  it('overfits one tiny batch: every loss group falls over 30 Adam steps, tensor count flat', () => {
    seedEverything(12);
    // The whole ResNet frozen (off the tape) keeps the 30 steps short; neck, transformer and heads train.
    const model = buildTinyHDetr({ criterion: tinyCriterion(), freeze_at: 5 }).train();
    const batch = makeBatch(32, 1);
    const vars = model.trainableVariables().map((t) => t.variable);
    const named = (grads: tf.NamedTensorMap) => vars.map((v) => ({ name: v.name, tensor: grads[v.name] }));
    const optimizer = tf.train.adam(2e-3);
    const groupOf = (key: string) => (key.endsWith('_one2many') ? 'one2many' : key.endsWith('_enc') ? 'enc' : 'one2one');
    const history: Record<string, number>[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 30; step++) {
      const sums: Record<string, number> = { total: 0, one2one: 0, one2many: 0, enc: 0 };
      const { value, grads } = tf.variableGrads(() => {
        const losses = model.forwardTrain(batch);
        for (const [k, v] of Object.entries(losses)) {
          const x = v.dataSync()[0];
          sums.total += x;
          sums[groupOf(k)] += x;
        }
        return tf.addN(Object.values(losses)) as tf.Scalar;
      }, vars);
      optimizer.applyGradients(named(grads));
      tf.dispose([value, ...Object.values(grads)]);
      history.push(sums);
      counts.push(tf.memory().numTensors);
    }
    const [first, last] = [history[0], history[history.length - 1]];
    expect(last.total).toBeLessThan(0.7 * first.total);
    for (const g of ['one2one', 'one2many', 'enc']) expect(last[g], g).toBeLessThan(0.8 * first[g]);
    // The optimizer creates its slots in step 0; from then on nothing accumulates.
    expect(new Set(counts.slice(1))).toEqual(new Set([counts[1]]));
    optimizer.dispose();
    tf.dispose([batch.images, batch.masks!]);
    model.dispose();
  });
});
