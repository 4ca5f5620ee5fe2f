// Anchor DETR as the engine uses it: forwardTrain gradients (finite, on every trainable parameter; the
// exactly-zero ones explained), the loss falling when overfitting one tiny batch with a constant tensor
// count, and predict() using the padding mask (upstream) and rescaling to original pixels.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedEverything } from '@detr/core';
import { expectClose } from '@detr/core/testing';
import { topkDetections } from '@detr/engine';
import type { AnchorDETR } from '../src/index';
import { CLASSES, PATTERNS, tinyAnchor, tinyBatch } from './tiny_anchor';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function lossGrads(model: AnchorDETR): { keys: string[]; grads: Map<string, tf.Tensor> } {
  const batch = tinyBatch();
  const vars = model.trainableVariables();
  let keys: string[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const losses = model.forwardTrain(batch);
    keys = Object.keys(losses);
    return tf.addN(Object.values(losses)) as tf.Scalar;
  }, vars.map((v) => v.variable));
  expect(Number.isFinite(value.dataSync()[0])).toBe(true);
  tf.dispose([value, batch.images, batch.masks]);
  return { keys, grads: new Map(vars.filter((v) => grads[v.variable.name]).map((v) => [v.name, grads[v.variable.name]])) };
}

describe('Anchor DETR training step', () => {
  it('returns the weighted loss dict and finite gradients for every trainable parameter', () => {
    const model = tinyAnchor();
    const { keys, grads } = lossGrads(model);
    expect(keys.sort()).toEqual(['loss_bbox', 'loss_bbox_0', 'loss_class', 'loss_class_0', 'loss_giou', 'loss_giou_0']);
    expect(model.trainableVariables().map((v) => v.name).filter((n) => !grads.has(n))).toEqual([]);
    const zero: string[] = [];
    for (const [name, g] of grads) {
      const values = g.dataSync();
      expect(values.every(Number.isFinite), `${name} has a non-finite gradient`).toBe(true);
      if (values.every((v) => v === 0)) zero.push(name);
    }
    // Exactly zero at initialisation, as upstream: the shared bbox_embed's last layer is zero-initialised,
    // so nothing flows back into its first two layers on the first step. (The learned anchor points do
    // get gradients: through the position embeddings and inverse_sigmoid in the box head.)
    expect(zero.sort()).toEqual(['0.weight', '0.bias', '1.weight', '1.bias'].map((k) => `transformer.bbox_embed.0.layers.${k}`).sort());
    expect(grads.has('transformer.position.weight')).toBe(true);
    tf.dispose([...grads.values()]);
    model.dispose();
  });

  it('trains with the fixed grid prior too (no position parameter)', () => {
    const model = tinyAnchor({ spatial_prior: 'grid', num_query_position: 4 });
    const { grads } = lossGrads(model);
    expect([...grads.keys()].some((k) => k.includes('position'))).toBe(false);
    expect([...grads.values()].every((g) => g.dataSync().every(Number.isFinite))).toBe(true);
    tf.dispose([...grads.values()]);
    model.dispose();
  });

  it('lowers the loss when overfitting one batch for 30 Adam steps, with a constant tensor count', () => {
    seedEverything(0); // seeds 0..2 end at 18-30% of the first loss
    const model = tinyAnchor();
    const batch = tinyBatch();
    const vars = model.trainableVariables().map((v) => v.variable);
    const opt = tf.train.adam(3e-3);
    const losses: number[] = [];
    const counts: number[] = [];
    for (let step = 0; step < 30; step++) {
      const { value, grads } = tf.variableGrads(() => tf.addN(Object.values(model.forwardTrain(batch))) as tf.Scalar, vars);
      losses.push(value.dataSync()[0]);
      opt.applyGradients(grads as unknown as Record<string, tf.Variable>); // typed as variables, used as gradient tensors
      tf.dispose([value, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(0.5 * mean(losses.slice(0, 5)));
    expect(new Set(counts.slice(1)).size).toBe(1); // Adam's moments appear on step 1; nothing accumulates after
    opt.dispose();
    tf.dispose([batch.images, batch.masks]);
    model.dispose();
  });
});

describe('Anchor DETR inference', () => {
  it('predict() uses the padding mask in eval mode (upstream), rescales to origSizes and leaks nothing', () => {
    const run = (zeroMask: boolean) => {
      seedEverything(3); // the same weights in both runs
      const model = tinyAnchor();
      model.eval();
      const batch = tinyBatch(1);
      if (zeroMask) {
        batch.masks.dispose();
        batch.masks = tf.zeros(batch.masks.shape, 'bool');
      }
      const before = tf.memory().numTensors;
      const dets = model.predict(batch);
      expect(tf.memory().numTensors).toBe(before);
      const out = model.forward(batch);
      expect(out.pred_logits.shape).toEqual([2, PATTERNS * 4, CLASSES]);
      const direct = topkDetections(out.pred_logits, out.pred_boxes, Math.min(100, PATTERNS * 4 * CLASSES), batch.imageSizes, batch.origSizes);
      tf.dispose([out.pred_logits, out.pred_boxes, ...(out.aux_outputs ?? []).flatMap((o) => [o.pred_logits, o.pred_boxes]), batch.images, batch.masks]);
      model.dispose();
      return { dets, direct, origSizes: batch.origSizes };
    };
    const padded = run(false);
    const zero = run(true);
    // Image 1 is padded: its detections change with the mask; image 0 has no padding.
    expect(() => expectClose(padded.dets[1].scores, zero.dets[1].scores, 1e-6, 'mask used')).toThrow();
    expectClose(padded.dets[0].scores, zero.dets[0].scores, 1e-5, 'unpadded image');
    padded.dets.forEach((d, i) => {
      expectClose(d.boxes, padded.direct[i].boxes, 0, `image ${i} boxes`);
      expect(d.scores.length).toBe(padded.direct[i].scores.length);
      const [oh, ow] = padded.origSizes[i];
      for (let j = 0; j < d.boxes.length; j += 4) {
        expect(Math.min(d.boxes[j], d.boxes[j + 1])).toBeGreaterThanOrEqual(0);
        expect(d.boxes[j + 2]).toBeLessThanOrEqual(ow);
        expect(d.boxes[j + 3]).toBeLessThanOrEqual(oh);
      }
    });
  });

  it('topkDetections scales cxcywh to original pixels and clips (hand computation)', () => {
    const logits = tf.tensor3d([[[0, 4], [1, -3]]]); // 2 queries x 2 classes
    const boxes = tf.tensor3d([[[0.25, 0.5, 0.5, 0.2], [0.95, 0.95, 0.3, 0.3]]]);
    const [det] = topkDetections(logits, boxes, 3, [[50, 100]], [[100, 200]]);
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    expectClose(det.scores, [s(4), s(1), s(0)], 1e-6, 'scores');
    expect(Array.from(det.labels)).toEqual([1, 0, 0]);
    // q0: x 0..0.5, y 0.4..0.6 -> (0, 40, 100, 60); q1: x 0.8..1.1 -> 160..200 (clipped), y 80..100 (clipped).
    expectClose(det.boxes, [0, 40, 100, 60, 160, 80, 200, 100, 0, 40, 100, 60], 1e-6, 'boxes');
    tf.dispose([logits, boxes]);
  });
});
