/**
 * Align-DETR's many-to-one MixedMatcher (`aligndetr/matchers/mixed_matcher.py`, FelixCaae/AlignDETR,
 * identical in detrex `projects/align_detr`): the cost block of DINO's matcher tiled k times along the
 * GT axis (`c.repeat(1, k)`: columns gt0..gt(n-1), gt0..), solved by linear sum assignment, so every
 * GT gets exactly k distinct queries; `tgt = col % n`, then the pairs are stably sorted by GT:
 * GT-major order, ascending query index inside a GT group (get_local_rank relies on that order).
 *
 * The cap on k (option `k_cap`):
 *  - 'upstream' (default, parity): `k = min(int(0.5*Q/n), k)` re-assigned inside the batch loop, so a
 *    smaller cap CARRIES OVER to the later images of the batch (fixtures/parity/README.md section 11);
 *    it can reach 0 when n > Q/2, and then those images get no match at all;
 *  - 'per_image' (mmdetection `projects/AlignDETR`): `max(1, min(k, Q // n))` for each image alone.
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

export type KCapMode = 'upstream' | 'per_image';

export interface MixedMatcherOptions extends MatchCostOptions {
  k_cap?: KCapMode;
}

/** The [Q, n] block repeated k times along the columns -> [Q, n*k] (row q: block row q, k times). */
export function tileCostColumns(block: Float64Array, numQueries: number, n: number, k: number): Float64Array {
  if (k === 1) return block;
  const tiled = new Float64Array(numQueries * n * k);
  for (let q = 0; q < numQueries; q++) {
    const row = block.subarray(q * n, (q + 1) * n);
    for (let r = 0; r < k; r++) tiled.set(row, (q * k + r) * n);
  }
  return tiled;
}

/** Pairs (rows ascending) with tgt = col % n, stably regrouped by GT (a counting sort). */
export function groupByTarget(rows: Int32Array, cols: Int32Array, n: number): ImageMatch {
  const m = rows.length;
  const counts = new Int32Array(n + 1);
  for (let i = 0; i < m; i++) counts[(cols[i] % n) + 1]++;
  for (let j = 0; j < n; j++) counts[j + 1] += counts[j];
  const src = new Int32Array(m);
  const tgt = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = cols[i] % n;
    const at = counts[j]++;
    src[at] = rows[i];
    tgt[at] = j;
  }
  return { src, tgt };
}

@register('matcher', 'mixed')
export class MixedMatcher implements Matcher {
  readonly manyToOne = true;
  readonly weights: MatchCostWeights;
  readonly kCap: KCapMode;

  constructor(opts: MixedMatcherOptions = {}) {
    checkOptionKeys('MixedMatcher', opts, [...MATCH_COST_KEYS, 'k_cap']);
    this.weights = parseMatchCostOptions('MixedMatcher', opts);
    const cap = opts.k_cap ?? 'upstream';
    if (cap !== 'upstream' && cap !== 'per_image') throw new Error(`MixedMatcher: k_cap must be "upstream" or "per_image", got ${JSON.stringify(cap)}`);
    this.kCap = cap;
  }

  matchData(pred: PredictionData, targets: readonly DetectionTarget[], k = 1): ImageMatch[] {
    if (!Number.isInteger(k) || k < 1) throw new Error(`MixedMatcher (${pred.layer}): k must be an integer >= 1, got ${k}`);
    validateTargets(targets, pred.batchSize, pred.numClasses, `MixedMatcher (${pred.layer})`);
    const Q = pred.numQueries;
    let carried = k; // upstream re-assigns gt_copy in the loop
    return targets.map((target, b) => {
      const n = target.labels.length;
      if (n === 0) return emptyMatch();
      let kb: number;
      if (this.kCap === 'upstream') {
        carried = Math.min(Math.trunc((Q * 0.5) / n), carried);
        kb = carried;
      } else {
        kb = Math.max(1, Math.min(k, Math.floor(Q / n)));
      }
      if (kb === 0) return emptyMatch();
      const block = matchCostBlock(pred, b, target, this.weights);
      const [rows, cols] = linearSumAssignmentFlat(tileCostColumns(block, Q, n, kb), Q, n * kb);
      return groupByTarget(rows, cols, n);
    });
  }

  match(outputs: PredictionTensors, targets: readonly DetectionTarget[], opts: { k?: number; layer?: string } = {}): ImageMatch[] {
    return this.matchData(readPredictions(outputs, opts.layer ?? 'outputs'), targets, opts.k ?? 1);
  }
}
