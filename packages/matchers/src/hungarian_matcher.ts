/**
 * DINO's one-to-one HungarianMatcher (detrex `detrex/modeling/matcher/matcher.py`): per image, the
 * focal / L1 / GIoU cost block [Q, n] (see match_cost.ts) solved by linear sum assignment; the
 * result lists queries in ascending order with their GT index, as scipy returns them.
 */
import { register } from '@detr/registry';
import { linearSumAssignmentFlat } from './linear_sum_assignment';
import { matchCostBlock, type MatchCostWeights } from './match_cost';
import { emptyMatch, type ImageMatch } from './match_result';
import type { Matcher } from './matcher';
import { checkOptionKeys } from './options';
import { MATCH_COST_KEYS, parseMatchCostOptions, type MatchCostOptions } from './cost_options';
import { readPredictions, type PredictionData, type PredictionTensors } from './prediction_data';
import { validateTargets, type DetectionTarget } from './targets';

export type HungarianMatcherOptions = MatchCostOptions;

@register('matcher', 'hungarian')
export class HungarianMatcher implements Matcher {
  readonly manyToOne = false;
  readonly weights: MatchCostWeights;

  constructor(opts: HungarianMatcherOptions = {}) {
    checkOptionKeys('HungarianMatcher', opts, MATCH_COST_KEYS);
    this.weights = parseMatchCostOptions('HungarianMatcher', opts);
  }

  matchData(pred: PredictionData, targets: readonly DetectionTarget[], k = 1): ImageMatch[] {
    if (k !== 1) {
      throw new Error(`HungarianMatcher (${pred.layer}): asked for k = ${k} queries per GT; it is one-to-one. Use matcher/mixed for match_num > 1`);
    }
    validateTargets(targets, pred.batchSize, pred.numClasses, `HungarianMatcher (${pred.layer})`);
    return targets.map((target, b) => {
      const n = target.labels.length;
      if (n === 0) return emptyMatch();
      const cost = matchCostBlock(pred, b, target, this.weights);
      const [src, tgt] = linearSumAssignmentFlat(cost, pred.numQueries, n);
      return { src, tgt };
    });
  }

  match(outputs: PredictionTensors, targets: readonly DetectionTarget[], opts: { k?: number; layer?: string } = {}): ImageMatch[] {
    return this.matchData(readPredictions(outputs, opts.layer ?? 'outputs'), targets, opts.k ?? 1);
  }
}
