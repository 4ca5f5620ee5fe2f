import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, expectExact, fixtureRaw, fixtureTensor, loadFixture, RTOL } from '@detr/core/testing';
import { flattenMatches, HungarianMatcher, readPredictions } from '../src/index';
import { fixtureCostMatrices, fixtureTargets } from './fixture_targets';

const F = 'matcher_focal';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function fixtureOutputs() {
  return { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
}

describe('HungarianMatcher against matcher_focal (detrex DINO matcher)', () => {
  it('reproduces the cost matrices (focal class, L1, -GIoU, total) per image block', () => {
    const outputs = fixtureOutputs();
    const pred = readPredictions(outputs, 'outputs');
    const targets = fixtureTargets(F);
    const matcher = new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 });
    const full = fixtureCostMatrices(pred, targets, matcher);
    expectClose(full.class, fixtureRaw(F, 'cost_class'), RTOL.activation, 'cost_class');
    expectClose(full.bbox, fixtureRaw(F, 'cost_bbox'), RTOL.activation, 'cost_bbox');
    expectClose(full.giou, fixtureRaw(F, 'cost_giou'), RTOL.activation, 'cost_giou');
    expectClose(full.total, fixtureRaw(F, 'cost_total'), RTOL.activation, 'cost_total');
    tf.dispose(outputs);
  });

  it('matches exactly (queries ascending; image 1 has no GT)', () => {
    const outputs = fixtureOutputs();
    const m = flattenMatches(new HungarianMatcher({}).match(outputs, fixtureTargets(F)));
    expectExact(m.sizes, fixtureRaw(F, 'match_sizes'), 'match_sizes');
    expectExact(m.batch, fixtureRaw(F, 'match_batch'), 'match_batch');
    expectExact(m.src, fixtureRaw(F, 'match_src'), 'match_src');
    expectExact(m.tgt, fixtureRaw(F, 'match_tgt'), 'match_tgt');
    expect(loadFixture(F).config.assignment_gap_per_image[0]).toBeGreaterThan(1e-2);
    tf.dispose(outputs);
  });

  it('rejects NaN predictions with an error naming the layer and the element, before solving', () => {
    const targets = fixtureTargets(F);
    const logits = fixtureTensor(F, 'pred_logits');
    const boxes = fixtureTensor(F, 'pred_boxes');
    // Copies: on the cpu backend bufferSync() shares memory with the tensor.
    const bad = tf.buffer(logits.shape, 'float32', Float32Array.from(logits.dataSync()));
    bad.set(NaN, 1, 7, 3);
    const badLogits = bad.toTensor();
    const matcher = new HungarianMatcher({});
    expect(() => matcher.match({ pred_logits: badLogits, pred_boxes: boxes }, targets, { layer: 'aux_outputs[3]' })).toThrow(
      /aux_outputs\[3\]: pred_logits\[1, 7, 3\] is NaN/,
    );
    const badB = tf.buffer(boxes.shape, 'float32', Float32Array.from(boxes.dataSync()));
    badB.set(Infinity, 0, 2, 1);
    const badBoxes = badB.toTensor();
    expect(() => matcher.match({ pred_logits: logits, pred_boxes: badBoxes }, targets, { layer: 'enc_outputs' })).toThrow(
      /enc_outputs: pred_boxes\[0, 2, 1\] is Infinity/,
    );
    tf.dispose([logits, boxes, badLogits, badBoxes]);
  });

  it('rejects bad targets and options clearly', () => {
    const outputs = fixtureOutputs();
    const targets = fixtureTargets(F);
    const matcher = new HungarianMatcher({});
    expect(() => matcher.match(outputs, targets.slice(0, 1))).toThrow(/1 targets for a batch of 2 images/);
    const badLabel = [{ ...targets[0], labels: Int32Array.from([0, 1, 9, 2]) }, targets[1]];
    expect(() => matcher.match(outputs, badLabel)).toThrow(/targets\[0\]\.labels\[2\] = 9 is not a class index in \[0, 5\)/);
    expect(() => matcher.match(outputs, [{ labels: Int32Array.from([1]), boxes: new Float32Array(3) }, targets[1]])).toThrow(/1 labels but 3 box values/);
    expect(() => matcher.match(outputs, targets, { k: 2 })).toThrow(/one-to-one.*matcher\/mixed/);
    expect(() => new HungarianMatcher({ cost_class: 0, cost_bbox: 0, cost_giou: 0 })).toThrow(/cannot all be 0/);
    expect(() => new HungarianMatcher({ cost_clas: 1 } as never)).toThrow(/unknown option "cost_clas"; accepted: cost_class/);
    tf.dispose(outputs);
  });
});
