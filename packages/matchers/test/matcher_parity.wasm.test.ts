/**
 * The matcher fixture checks on the wasm backend: matcher_focal (README section 5: HungarianMatcher cost
 * matrices within the activation tolerance, indices exactly) and align_ia_bce (section 6: MixedMatcher
 * k = 1, 2, 3 indices exactly, effective k per image). The matchers compute in float64 JS on the
 * predictions read back from the tensors (readPredictions), so this proves that path on wasm; the cpu
 * versions are hungarian_matcher.test.ts and mixed_matcher.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadroomLog, RTOL, expectExact, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend } from '@detr/core/testing';
import { flattenMatches, HungarianMatcher, MixedMatcher, readPredictions } from '../src/index';
import { fixtureCostMatrices, fixtureTargets } from './fixture_targets';

const log = new HeadroomLog('matcher_focal', 'wasm');

beforeAll(async () => {
  await useTestBackend('wasm');
});

afterAll(() => reportHeadroom(log));

function outputsOf(file: string) {
  return { pred_logits: fixtureTensor(file, 'pred_logits'), pred_boxes: fixtureTensor(file, 'pred_boxes') };
}

describe('HungarianMatcher against matcher_focal, wasm backend', () => {
  const F = 'matcher_focal';

  it('cost matrices (focal class, L1, -GIoU, total): [Q, T] with column j from the image owning target j', () => {
    const outputs = outputsOf(F);
    expect(tf.getBackend()).toBe('wasm');
    const pred = readPredictions(outputs, 'outputs');
    const targets = fixtureTargets(F);
    const matcher = new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 });
    const full = fixtureCostMatrices(pred, targets, matcher);
    log.close(full.class, fixtureRaw(F, 'cost_class'), RTOL.activation, 'cost_class');
    log.close(full.bbox, fixtureRaw(F, 'cost_bbox'), RTOL.activation, 'cost_bbox');
    log.close(full.giou, fixtureRaw(F, 'cost_giou'), RTOL.activation, 'cost_giou');
    log.close(full.total, fixtureRaw(F, 'cost_total'), RTOL.activation, 'cost_total');
    tf.dispose(outputs);
  });

  it('matches exactly (queries ascending; image 1 has no GT)', () => {
    const outputs = outputsOf(F);
    const m = flattenMatches(new HungarianMatcher({}).match(outputs, fixtureTargets(F)));
    for (const part of ['sizes', 'batch', 'src', 'tgt'] as const) expectExact(m[part], fixtureRaw(F, `match_${part}`), `match_${part} (wasm)`);
    tf.dispose(outputs);
  });
});

describe('MixedMatcher against align_ia_bce, wasm backend', () => {
  const F = 'align_ia_bce';

  for (const k of [1, 2, 3]) {
    it(`k = ${k}: exact indices (GT-major, ascending queries per GT) and effective k per image`, () => {
      const outputs = outputsOf(F);
      const targets = fixtureTargets(F);
      const m = flattenMatches(new MixedMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }).match(outputs, targets, { k }));
      for (const part of ['sizes', 'batch', 'src', 'tgt'] as const) expectExact(m[part], fixtureRaw(F, `mixed_k${k}_${part}`), `mixed_k${k}_${part} (wasm)`);
      const effective = targets.map((t, b) => (t.labels.length === 0 ? null : m.sizes[b] / t.labels.length));
      expect(effective).toEqual(loadFixture(F).config[`k${k}`].effective_k_per_image);
      tf.dispose(outputs);
    });
  }
});
