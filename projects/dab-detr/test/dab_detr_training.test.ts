// DAB-DETR as the engine uses it: forwardTrain gradients (finite, on every trainable parameter; the
// exactly-zero ones explained), anchor-centre freezing (upstream no-op vs the real freeze), loss falling
// when overfitting one tiny batch, no tensor leak across steps, and predict()'s rescaling / masks.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, seedEverything } from '@detr/core';
import { expectClose } from '@detr/core/testing';
import { topkDetections } from '@detr/engine';
import { disposeOutputs, type DABDETR } from '../src/index';
import { tinyBatch, tinyDab } from './tiny_dab';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Gradients of the summed, weighted loss dict w.r.t. every trainable parameter, by parameter name. */
function lossGrads(model: DABDETR, batch = tinyBatch(0, 32)): { loss: number; keys: string[]; grads: Map<string, tf.Tensor> } {
  const vars = model.trainableVariables();
  let keys: string[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const losses = model.forwardTrain(batch);
    keys = Object.keys(losses);
    return tf.addN(Object.values(losses)) as tf.Scalar;
  }, vars.map((v) => v.variable));
  const loss = value.dataSync()[0];
  value.dispose();
  tf.dispose([batch.images, batch.masks]);
  return { loss, keys, grads: new Map(vars.filter((v) => grads[v.variable.name]).map((v) => [v.name, grads[v.variable.name]])) };
}

describe('DAB-DETR training step', () => {
  it('returns the weighted loss dict with aux keys and finite gradients for every trainable parameter', () => {
    const model = tinyDab({ layers: 2 });
    const { loss, keys, grads } = lossGrads(model);
    expect(keys.sort()).toEqual(['loss_bbox', 'loss_bbox_0', 'loss_class', 'loss_class_0', 'loss_giou', 'loss_giou_0']);
    expect(Number.isFinite(loss)).toBe(true);
    const names = model.trainableVariables().map((v) => v.name);
    expect(names.filter((n) => !grads.has(n))).toEqual([]);
    const zero: string[] = [];
    for (const [name, g] of grads) {
      const values = g.dataSync();
      expect(values.every(Number.isFinite), `${name} has a non-finite gradient`).toBe(true);
      if (values.every((v) => v === 0)) zero.push(name);
    }
    // Exactly zero at initialisation, as in detrex:
    // - decoder layer 0 self-attention content / value weights: the content queries are zeros
    //   (num_patterns = 0), so d(Wx)/dW = x = 0 (their biases do get gradients);
    // - the first two layers of the shared bbox_embed: its last layer is zero-initialised, so nothing
    //   flows back through it on the first step (its own last layer gets a gradient).
    // The tied head is named transformer.decoder.bbox_embed.* (first name in module order, as torch).
    expect(zero.sort()).toEqual(
      [
        'transformer.decoder.layers.0.attentions.0.query_content_proj.weight',
        'transformer.decoder.layers.0.attentions.0.key_content_proj.weight',
        'transformer.decoder.layers.0.attentions.0.value_proj.weight',
        'transformer.decoder.bbox_embed.layers.0.weight',
        'transformer.decoder.bbox_embed.layers.0.bias',
        'transformer.decoder.bbox_embed.layers.1.weight',
        'transformer.decoder.bbox_embed.layers.1.bias',
      ].sort(),
    );
    tf.dispose([...grads.values()]);
    model.dispose();
  });

  it('trains the anchor centres by default (detrex no-op freeze) and stops them with hard_freeze_anchor_box_centers', () => {
    for (const hard of [false, true]) {
      const model = tinyDab({ layers: 1, extra: { hard_freeze_anchor_box_centers: hard } });
      const { grads } = lossGrads(model);
      const g = grads.get('anchor_box_embed.weight')!.arraySync() as number[][];
      const xy = g.flatMap((r) => r.slice(0, 2).map(Math.abs));
      const wh = g.flatMap((r) => r.slice(2).map(Math.abs));
      expect(Math.max(...wh)).toBeGreaterThan(0);
      if (hard) expect(Math.max(...xy)).toBe(0);
      else expect(Math.max(...xy)).toBeGreaterThan(0);
      tf.dispose([...grads.values()]);
      model.dispose();
    }
  });

  it('lowers the loss when overfitting one batch for 30 Adam steps, with a constant tensor count', () => {
    seedEverything(0); // seeds 0..3 end at 29-55% of the first loss; seed 0 at about 30%
    const model = tinyDab({ layers: 2 });
    const batch = tinyBatch(0, 32);
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
    expect(mean(losses.slice(-5))).toBeLessThan(0.6 * mean(losses.slice(0, 5)));
    // Adam creates its moment variables on the first step; after that nothing may accumulate.
    expect(new Set(counts.slice(1)).size).toBe(1);
    opt.dispose();
    tf.dispose([batch.images, batch.masks]);
    model.dispose();
  });
});

describe('DAB-DETR inference', () => {
  it('topkDetections: top-k over queries x classes, boxes scaled to original pixels, clipped, empty ones dropped', () => {
    // 1 image, 3 queries, 2 classes. Input size 40x60 (h, w), original 80x120.
    const logits = tf.tensor3d([[[2, -1], [0.5, 3], [-2, 1]]]);
    const boxes = tf.tensor3d([[[0.5, 0.5, 0.5, 0.5], [0.9, 0.1, 0.4, 0.4], [0.5, 0.5, 0, 0.2]]]);
    const [det] = topkDetections(logits, boxes, 4, [[40, 60]], [[80, 120]]);
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    // Ranked scores: q1c1 (3), q0c0 (2), q2c1 (1: an empty box, dropped), q1c0 (0.5).
    expectClose(det.scores, [s(3), s(2), s(0.5)], 1e-6, 'scores');
    expect(Array.from(det.labels)).toEqual([1, 0, 0]);
    // q1: cx 0.9, cy 0.1, w = h = 0.4 -> x 0.7..1.1 (clipped to 1), y -0.1..0.3 (clipped to 0), times (120, 80).
    expectClose(det.boxes, [84, 0, 120, 24, 30, 20, 90, 60, 84, 0, 120, 24], 1e-6, 'boxes');
    tf.dispose([logits, boxes]);
  });

  it('predict() ignores the padding mask in eval mode (detrex) unless eval_padding_mask, and rescales to origSizes', () => {
    const run = (evalPaddingMask: boolean, zeroMask: boolean) => {
      seedEverything(9); // the same weights in every run
      const model = tinyDab({ layers: 1, extra: { eval_padding_mask: evalPaddingMask } });
      const rng = new Rng(9);
      // Non-zero box head so that boxes depend on the encoder output (and hence on the mask).
      for (const [, p] of model.bbox_embed.namedParameters()) p.variable.assign(tf.tensor(rng.normalArray(p.variable.size, 0, 0.3), p.variable.shape));
      model.eval();
      const batch = tinyBatch(0, 32);
      if (zeroMask) {
        batch.masks.dispose();
        batch.masks = tf.zeros(batch.masks.shape, 'bool');
      }
      const before = tf.memory().numTensors;
      const dets = model.predict(batch);
      expect(tf.memory().numTensors).toBe(before); // predict leaves no tensor behind
      const outputs = model.forward(batch);
      const [, q, c] = outputs.pred_logits.shape;
      const direct = topkDetections(outputs.pred_logits, outputs.pred_boxes, Math.min(300, q! * c!), batch.imageSizes, batch.origSizes);
      disposeOutputs(outputs);
      tf.dispose([batch.images, batch.masks]);
      model.dispose();
      return { dets, direct, batch };
    };
    const padded = run(false, false);
    const zero = run(false, true);
    expectClose(padded.dets[1].boxes, zero.dets[1].boxes, 0, 'eval mode: the batch mask is not used');
    const used = run(true, false);
    expect(() => expectClose(used.dets[1].boxes, zero.dets[1].boxes, 1e-6, 'eval_padding_mask')).toThrow();
    // predict = forward + topkDetections with origSizes; boxes stay inside the original image.
    padded.dets.forEach((d, i) => {
      expectClose(d.boxes, padded.direct[i].boxes, 0, `image ${i} boxes`);
      const [oh, ow] = padded.batch.origSizes[i];
      for (let j = 0; j < d.boxes.length; j += 4) {
        expect(d.boxes[j]).toBeGreaterThanOrEqual(0);
        expect(d.boxes[j + 2]).toBeLessThanOrEqual(ow);
        expect(d.boxes[j + 3]).toBeLessThanOrEqual(oh);
      }
    });
    expect(padded.dets[0].scores.length).toBeLessThanOrEqual(8 * 3);
  });
});
