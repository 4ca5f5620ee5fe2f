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

/**
 * pycocotools `COCOeval.accumulate` (cocoeval.py) over the cell evaluation. Per category group k, the detections
 * of all images are ranked once by descending score, stable in (image, rank-in-image) order, which is the
 * `np.argsort(-dtScores, kind='mergesort')` order of the concatenation; each maxDet keeps those with
 * rank-in-image < maxDet. Then for each area range and threshold pycocotools computes cumulative tp / fp,
 * `rc = tp/npig`, `pr = tp/(tp+fp+spacing(1))`, the suffix maximum of pr, and samples pr and the score at
 * `searchsorted(rc, recThrs, 'left')`, with 0 past the last detection.
 *
 * The same numbers are computed here without materialising rc and pr for every detection:
 *  - rc only changes where tp does, so the first position with `rc >= x` is the position of the v-th true
 *    positive, v being the smallest count with `v / npig >= x` (division is monotone, so this is exact);
 *  - between true positives pr only falls (fp grows), so the suffix maximum at the v-th true positive is the
 *    maximum of pr taken at true positives v, v+1, ... (pr evaluated there with the same formula).
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
  const tpCount = new Int32Array(AT);
  const fpCount = new Int32Array(AT);
  let cap = 0; // per (a, t): room for true positives 1..cap-1
  let tpPos = new Int32Array(0); // [at * cap + v]: rank position of the v-th true positive
  let tpPr = new Float64Array(0); // [at * cap + v]: pr there, then its suffix maximum over v
  for (let k = 0; k < K; k++) {
    const first = dt.cellStart[k * layout.I];
    const end = dt.cellStart[(k + 1) * layout.I];
    const ranked: number[] = [];
    for (let r = first; r < end; r++) ranked.push(r);
    ranked.sort((a, b) => dt.score[b] - dt.score[a]); // stable: ties keep row (image, rank) order
    if (cap < ranked.length + 1) {
      cap = ranked.length + 1;
      tpPos = new Int32Array(AT * cap);
      tpPr = new Float64Array(AT * cap);
    }
    const rows = new Int32Array(ranked.length);
    for (let m = 0; m < M; m++) {
      const maxDet = maxDets[m];
      let nd = 0;
      for (const r of ranked) if (dt.rank[r] < maxDet) rows[nd++] = r;
      tpCount.fill(0);
      fpCount.fill(0);
      for (let i = 0; i < nd; i++) {
        const base = rows[i] * AT;
        for (let at = 0; at < AT; at++) {
          const f = flags[base + at];
          if (f & ignoredBit) continue;
          if (f & matchedBit) {
            const v = ++tpCount[at];
            tpPos[at * cap + v] = i;
            tpPr[at * cap + v] = v / (fpCount[at] + v + eps);
          } else {
            fpCount[at]++;
          }
        }
      }
      for (let a = 0; a < A; a++) {
        const npig = ev.npig[k * A + a];
        if (npig === 0) continue; // no regular ground truth: stays -1
        for (let t = 0; t < T; t++) {
          const at = a * T + t;
          const off = at * cap;
          const tp = tpCount[at];
          recall[((t * K + k) * A + a) * M + m] = nd > 0 ? tp / npig : 0;
          for (let v = tp - 1; v >= 1; v--) if (tpPr[off + v + 1] > tpPr[off + v]) tpPr[off + v] = tpPr[off + v + 1];
          let r = 0;
          for (; r < R; r++) {
            const x = recThrs[r];
            // smallest v in [0, tp] with v / npig >= x, or tp + 1 if none
            let lo = 0;
            let hi = tp + 1;
            while (lo < hi) {
              const mid = (lo + hi) >>> 1;
              if (mid / npig < x) lo = mid + 1;
              else hi = mid;
            }
            if (lo > tp || nd === 0) break; // searchsorted returned nd: pycocotools' IndexError ends the loop
            const idx = lo === 0 ? 0 : tpPos[off + lo];
            const o = (((t * R + r) * K + k) * A + a) * M + m;
            precision[o] = tp === 0 ? 0 : tpPr[off + Math.max(lo, 1)];
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
