/**
 * Frozen leading parts of a ResNet run off the gradient tape: same outputs and the same gradients for
 * the trained weights as a model that trains everything, fewer tensors held by the tape, no gradient
 * for the frozen weights, and a clear error (or, with runFrozenOffTape=false, the exact gradient) for
 * the input.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@detr/core';
import { expectClose } from '@detr/core/testing';
import { ResNet } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ResNet frozen prefix off the tape', () => {
  it('matches a fully trained model on values and trained-weight gradients, and keeps fewer tensors on the tape', () => {
    const frozen = new ResNet({ depth: 18, out_features: ['res3'], freeze_at: 2 }); // stem + res2 frozen
    const full = new ResNet({ depth: 18, out_features: ['res3'], freeze_at: 0 });
    full.loadStateDict(frozen.stateDict());
    const rng = new Rng(11);
    const x = tf.variable(tf.tensor4d(rng.normalArray(16 * 16 * 3), [1, 16, 16, 3]));
    const u = tf.tensor4d(rng.normalArray(2 * 2 * 128), [1, 2, 2, 128]);
    let liveAtLoss = 0;
    const lossOf = (model: ResNet) => () => {
      const y = model.forward(x as unknown as tf.Tensor4D).res3;
      const loss = tf.tidy(() => y.mul(u).sum() as tf.Scalar);
      y.dispose();
      liveAtLoss = tf.memory().numTensors; // includes every tensor the tape saved for the backward pass
      return loss;
    };
    const res3Names = frozen.trainableVariables().map((v) => v.name);
    expect(res3Names.every((n) => n.startsWith('res3.'))).toBe(true);

    const a = tf.variableGrads(lossOf(frozen), frozen.trainableVariables().map((v) => v.variable));
    const liveOffTape = liveAtLoss;
    const fullVars = new Map(full.trainableVariables().map((v) => [v.name, v.variable]));
    const b = tf.variableGrads(lossOf(full), res3Names.map((n) => fullVars.get(n)!));
    expectClose(a.value, b.value, 1e-6, 'loss');
    frozen.trainableVariables().forEach(({ name, variable }) => {
      expectClose(a.grads[variable.name], b.grads[fullVars.get(name)!.name], 1e-5, `d/d ${name}`);
    });

    frozen.runFrozenOffTape = false;
    const c = tf.variableGrads(lossOf(frozen), frozen.trainableVariables().map((v) => v.variable));
    expect(liveOffTape).toBeLessThan(liveAtLoss - 20); // the stem and res2 activations are not kept
    tf.dispose([a.value, b.value, c.value, ...Object.values(a.grads), ...Object.values(b.grads), ...Object.values(c.grads)]);

    // Frozen weights get no gradient; the input's gradient is an error off the tape, exact on it.
    frozen.runFrozenOffTape = true;
    const stemWeight = frozen.stem.conv1.weight;
    const onlyTrained = tf.variableGrads(lossOf(frozen), [stemWeight, frozen.trainableVariables()[0].variable]);
    expect(Object.keys(onlyTrained.grads)).toEqual([frozen.trainableVariables()[0].variable.name]);
    tf.dispose([onlyTrained.value, ...Object.values(onlyTrained.grads)]);
    expect(() => tf.variableGrads(lossOf(frozen), [x])).toThrow(/ResNet stem \+ res2 ran off the gradient tape \(frozen\)/);
    frozen.runFrozenOffTape = false;
    const dxFrozen = tf.variableGrads(lossOf(frozen), [x]);
    const dxFull = tf.variableGrads(lossOf(full), [x]);
    expectClose(dxFrozen.grads[x.name], dxFull.grads[x.name], 1e-5, 'd/d input');
    tf.dispose([x, u, dxFrozen.value, dxFull.value, ...Object.values(dxFrozen.grads), ...Object.values(dxFull.grads)]);
    frozen.dispose();
    full.dispose();
  });
});
