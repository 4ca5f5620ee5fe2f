import type { DtRows, EvalLayout } from './eval-rows';
import { IGNORED, MATCHED, type CellEvaluation } from './evaluate-cells';
import { SPACING_1 } from './numpy-compat';

/**
 * Output of accumulate (pycocotools `self.eval`), flat C-order Float64Arrays:
 *  precision[T,R,K,A,M], scores[T,R,K,A,M], recall[T,K,A,M]; -1 where a category has no regular ground truth.
 */
export interface Accumulated {
  /** [T, R, K, A, M] */
  counts: [number, number, number, number, number];
  precision: Float64Array;
  recall: Float64Array;
  scores: Float64Array;
}

/** First index i in `rc[0..n)` (non-decreasing) with `rc[i] >= x`: `np.searchsorted(rc, x, side='left')`. */
function searchLeft(rc: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rc[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * pycocotools `COCOeval.accumulate` (cocoeval.py) over the cell evaluation. Per category group k, the detections
 * of all images are ranked once by descending score, stable in (image, rank-in-image) order, which is the
 * `np.argsort(-dtScores, kind='mergesort')` order of the concatenation; each maxDet keeps those with
 * rank-in-image < maxDet. Then for each area range and threshold: cumulative tp / fp, recall tp/npig, precision
 * tp/(tp+fp+spacing(1)), the monotone precision envelope, and precision/score sampled at
 * `searchsorted(rc, recThrs, 'left')`, with 0 past the last detection.
 */
export function accumulateCells(
  layout: EvalLayout,
  dt: DtRows,
  ev: CellEvaluation,
  iouThrs: readonly number[],
  recThrs: readonly number[],
  nAreas: number,
  maxDets: readonly number[],
): Accumulated {
  const T = iouThrs.length;
  const R = recThrs.length;
  const K = layout.K;
  const A = nAreas;
  const M = maxDets.length;
  const AT = A * T;
  // module constants as locals: loaders that transpile to CommonJS turn imported bindings into getter calls
  const matchedBit = MATCHED;
  const ignoredBit = IGNORED;
  const eps = SPACING_1;
  const flags = ev.flags;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  let rc = new Float64Array(16);
  let pr = new Float64Array(16);
  for (let k = 0; k < K; k++) {
    const first = dt.cellStart[k * layout.I];
    const end = dt.cellStart[(k + 1) * layout.I];
    const ranked: number[] = [];
    for (let r = first; r < end; r++) ranked.push(r);
    ranked.sort((a, b) => dt.score[b] - dt.score[a]); // stable: ties keep row (image, rank) order
    if (rc.length < ranked.length) {
      rc = new Float64Array(ranked.length);
      pr = new Float64Array(ranked.length);
    }
    const rows = new Int32Array(ranked.length);
    for (let m = 0; m < M; m++) {
      const maxDet = maxDets[m];
      let nd = 0;
      for (const r of ranked) if (dt.rank[r] < maxDet) rows[nd++] = r;
      for (let a = 0; a < A; a++) {
        const npig = ev.npig[k * A + a];
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) {
          const at = a * T + t;
          let tp = 0;
          let fp = 0;
          for (let i = 0; i < nd; i++) {
            const f = flags[rows[i] * AT + at];
            if ((f & ignoredBit) === 0) {
              if (f & matchedBit) tp++;
              else fp++;
            }
            rc[i] = tp / npig;
            pr[i] = tp / (fp + tp + eps);
          }
          recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0;
          for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          let r = 0;
          for (; r < R; r++) {
            const idx = searchLeft(rc, nd, recThrs[r]);
            if (idx >= nd) break; // pycocotools' IndexError ends the loop: the rest stay 0
            const o = (((t * R + r) * K + k) * A + a) * M + m;
            precision[o] = pr[idx];
            scores[o] = dt.score[rows[idx]];
          }
          for (; r < R; r++) {
            const o = (((t * R + r) * K + k) * A + a) * M + m;
            precision[o] = 0;
            scores[o] = 0;
          }
        }
      }
    }
  }
  return { counts: [T, R, K, A, M], precision, recall, scores };
}
