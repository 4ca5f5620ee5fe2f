// Test helpers: the per-image targets of a parity fixture (tgt_sizes / tgt_labels / tgt_boxes), and the
// matcher's cost matrices laid out as the fixture's [Q, T] ones.
import { toFloat32Array, toInt32Array } from '@detr/core';
import { fixtureRaw } from '@detr/core/testing';
import { matchCostBlock, splitTargets, type DetectionTarget, type HungarianMatcher, type MatchCostParts, type PredictionData } from '../src/index';

export function fixtureTargets(file: string): DetectionTarget[] {
  return splitTargets(toInt32Array(fixtureRaw(file, 'tgt_sizes')), toInt32Array(fixtureRaw(file, 'tgt_labels')), toFloat32Array(fixtureRaw(file, 'tgt_boxes')));
}

/**
 * The cost matrices (focal class, L1, -GIoU, total) of `matcher` as the fixture's [Q, T] matrices: column
 * j uses the queries of the image owning target j (matchCostBlock per image, placed side by side).
 */
export function fixtureCostMatrices(pred: PredictionData, targets: readonly DetectionTarget[], matcher: HungarianMatcher) {
  const Q = pred.numQueries;
  const T = targets.reduce((s, t) => s + t.labels.length, 0);
  const full = { class: new Float64Array(Q * T), bbox: new Float64Array(Q * T), giou: new Float64Array(Q * T), total: new Float64Array(Q * T) };
  let col = 0;
  targets.forEach((target, b) => {
    const n = target.labels.length;
    const parts: MatchCostParts = { costClass: new Float64Array(Q * n), costBbox: new Float64Array(Q * n), costGiou: new Float64Array(Q * n) };
    const total = matchCostBlock(pred, b, target, matcher.weights, parts);
    for (let q = 0; q < Q; q++) {
      for (let j = 0; j < n; j++) {
        full.class[q * T + col + j] = parts.costClass[q * n + j];
        full.bbox[q * T + col + j] = parts.costBbox[q * n + j];
        full.giou[q * T + col + j] = parts.costGiou[q * n + j];
        full.total[q * T + col + j] = total[q * n + j];
      }
    }
    col += n;
  });
  return full;
}
