import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectExact, fixtureRaw, fixtureTensor, loadFixture } from '@detr/core/testing';
import { flattenMatches, groupByTarget, linearSumAssignmentFlat, matchCostBlock, MixedMatcher, readPredictions, tileCostColumns, type DetectionTarget } from '../src/index';
import { fixtureTargets } from './fixture_targets';

const F = 'align_ia_bce';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('MixedMatcher against align_ia_bce (Align-DETR many-to-one)', () => {
  for (const k of [1, 2, 3]) {
    it(`k = ${k}: exact indices (GT-major, ascending queries per GT) and effective k per image`, () => {
      const outputs = { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
      const targets = fixtureTargets(F);
      const m = flattenMatches(new MixedMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }).match(outputs, targets, { k }));
      expectExact(m.sizes, fixtureRaw(F, `mixed_k${k}_sizes`), `mixed_k${k}_sizes`);
      expectExact(m.batch, fixtureRaw(F, `mixed_k${k}_batch`), `mixed_k${k}_batch`);
      expectExact(m.src, fixtureRaw(F, `mixed_k${k}_src`), `mixed_k${k}_src`);
      expectExact(m.tgt, fixtureRaw(F, `mixed_k${k}_tgt`), `mixed_k${k}_tgt`);
      const effective = targets.map((t, b) => (t.labels.length === 0 ? null : m.sizes[b] / t.labels.length));
      expect(effective).toEqual(loadFixture(F).config[`k${k}`].effective_k_per_image);
      tf.dispose(outputs);
    });
  }

  it("k_cap 'per_image' caps each image alone: max(1, min(k, Q // n)), no carry-over", () => {
    const outputs = { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
    const targets = fixtureTargets(F); // n = [3, 0, 6, 2], Q = 30
    const upstream = flattenMatches(new MixedMatcher({ k_cap: 'upstream' }).match(outputs, targets, { k: 8 }));
    const perImage = flattenMatches(new MixedMatcher({ k_cap: 'per_image' }).match(outputs, targets, { k: 8 }));
    // upstream: min(int(15/3), 8) = 5, then min(int(15/6), 5) = 2 carried to image 3 (would allow 7).
    expect(Array.from(upstream.sizes)).toEqual([15, 0, 12, 4]);
    // per image: min(8, 30//3 = 10) = 8, min(8, 30//6 = 5) = 5, min(8, 30//2 = 15) = 8.
    expect(Array.from(perImage.sizes)).toEqual([24, 0, 30, 16]);
    tf.dispose(outputs);
  });

  it('gives every GT exactly k distinct queries at the optimum of the tiled problem', () => {
    const outputs = { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
    const targets = fixtureTargets(F);
    const matcher = new MixedMatcher({});
    const pred = readPredictions(outputs, 'outputs');
    const matches = matcher.matchData(pred, targets, 2);
    matches.forEach((m, b) => {
      const n = targets[b].labels.length;
      expect(new Set(m.src).size).toBe(m.src.length);
      for (let j = 0; j < n; j++) expect(m.tgt.filter((t) => t === j).length).toBe(2);
      if (n === 0) return;
      // Same total cost as any optimal assignment of the tiled matrix.
      const block = matchCostBlock(pred, b, targets[b], matcher.weights);
      let total = 0;
      for (let i = 0; i < m.src.length; i++) total += block[m.src[i] * n + m.tgt[i]];
      const [rows, cols] = linearSumAssignmentFlat(tileCostColumns(block, pred.numQueries, n, 2), pred.numQueries, 2 * n);
      let best = 0;
      for (let i = 0; i < rows.length; i++) best += block[rows[i] * n + (cols[i] % n)];
      expect(total).toBeCloseTo(best, 9);
    });
    tf.dispose(outputs);
  });

  it('upstream cap reaches 0 when an image has more than Q/2 GT, and stays 0 for later images', () => {
    // Q = 4 queries; image 0 has 3 GT -> int(2/3) = 0; image 1 (1 GT) inherits 0.
    const logits = tf.zeros([2, 4, 2]);
    const boxes = tf.fill([2, 4, 4], 0.25);
    const t = (n: number): DetectionTarget => ({ labels: new Int32Array(n), boxes: new Float32Array(4 * n).fill(0.2) });
    const m = new MixedMatcher({}).match({ pred_logits: logits, pred_boxes: boxes }, [t(3), t(1)], { k: 2 });
    expect(m.map((x) => x.src.length)).toEqual([0, 0]);
    const perImage = new MixedMatcher({ k_cap: 'per_image' }).match({ pred_logits: logits, pred_boxes: boxes }, [t(3), t(1)], { k: 2 });
    expect(perImage.map((x) => x.src.length)).toEqual([3, 2]);
    tf.dispose([logits, boxes]);
  });

  it('tiles columns gt0..gt(n-1) k times and regroups pairs stably by GT', () => {
    const block = Float64Array.from([1, 2, 3, 4]); // [Q=2, n=2]
    expect(Array.from(tileCostColumns(block, 2, 2, 3))).toEqual([1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4]);
    const g = groupByTarget(Int32Array.from([0, 2, 5, 7]), Int32Array.from([3, 0, 1, 2]), 2);
    expect(Array.from(g.tgt)).toEqual([0, 0, 1, 1]);
    expect(Array.from(g.src)).toEqual([2, 7, 0, 5]);
  });

  it('rejects a bad k_cap and k', () => {
    expect(() => new MixedMatcher({ k_cap: 'mmdet' as never })).toThrow(/k_cap must be "upstream" or "per_image"/);
    const outputs = { pred_logits: tf.zeros([1, 3, 2]), pred_boxes: tf.fill([1, 3, 4], 0.5) };
    expect(() => new MixedMatcher({}).match(outputs, [{ labels: new Int32Array(0), boxes: new Float32Array(0) }], { k: 0 })).toThrow(/k must be an integer >= 1/);
    tf.dispose(outputs);
  });
});
