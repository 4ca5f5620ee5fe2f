import type { DtRows, EvalLayout, GtRows } from './eval-rows';
import { matchCell, type CellMatchScratch } from './match-cell';
import type { AreaRange } from './params';
import type { RegionGeometry } from './region-geometry';

/** Bits of the per-(area, threshold, detection) flag bytes that accumulate reads. */
export const MATCHED = 1; // dtMatches != 0 (matched to a ground truth whose id is non-zero, as numpy's truthiness)
export const IGNORED = 2; // dtIgnore

/**
 * Result of evaluate(): what accumulate() needs, in typed arrays instead of pycocotools' list of per-image dicts.
 * `flags[(row * A + a) * T + t]` holds MATCHED / IGNORED for detection row `row` (detection-major, so that the
 * flags of one category, whose rows are contiguous, are one contiguous block for accumulate);
 * `npig[k * A + a]` counts the non-ignored ground truths of category group k in area range a.
 */
export interface CellEvaluation {
  flags: Uint8Array;
  npig: Int32Array;
}

/** Growable per-cell work arrays, shared across cells to avoid allocation. */
export class CellScratch implements CellMatchScratch {
  ious = new Float64Array(64);
  dtMatch = new Int32Array(64);
  gtMatch = new Float64Array(64);
  gtOrder = new Int32Array(16);
  gtIgnore = new Uint8Array(16);
  gtCrowd = new Uint8Array(16);

  fit(T: number, nDt: number, nGt: number): void {
    if (this.ious.length < nDt * nGt) this.ious = new Float64Array(2 * nDt * nGt);
    if (this.dtMatch.length < T * nDt) this.dtMatch = new Int32Array(2 * T * nDt);
    if (this.gtMatch.length < T * nGt) this.gtMatch = new Float64Array(2 * T * nGt);
    if (this.gtOrder.length < nGt) {
      this.gtOrder = new Int32Array(2 * nGt);
      this.gtIgnore = new Uint8Array(2 * nGt);
      this.gtCrowd = new Uint8Array(2 * nGt);
    }
  }
}

/**
 * Ground-truth ignore flags for one area range and the stable "regular first, ignored last" order
 * (pycocotools: `_ignore = ignore or area outside aRng`; `np.argsort(_ignore, kind='mergesort')`).
 * Fills scratch.gtOrder / gtIgnore / gtCrowd for positions 0..nGt-1; returns the number of regular ones.
 */
export function sortGtForArea(gt: GtRows, gtStart: number, nGt: number, range: AreaRange, s: CellScratch): number {
  const lo = range[0];
  const hi = range[1];
  let pos = 0;
  for (let g = 0; g < nGt; g++) {
    const r = gtStart + g;
    const area = gt.area[r];
    if (gt.crowd[r] === 0 && !(area < lo || area > hi)) {
      s.gtOrder[pos] = g;
      s.gtIgnore[pos] = 0;
      s.gtCrowd[pos] = 0;
      pos++;
    }
  }
  const regular = pos;
  for (let g = 0; g < nGt; g++) {
    const r = gtStart + g;
    const area = gt.area[r];
    if (gt.crowd[r] !== 0 || area < lo || area > hi) {
      s.gtOrder[pos] = g;
      s.gtIgnore[pos] = 1;
      s.gtCrowd[pos] = gt.crowd[r];
      pos++;
    }
  }
  return regular;
}

/** Runs the matching of every cell for every area range and threshold (pycocotools `evaluate`). */
export function evaluateCells(
  layout: EvalLayout,
  gt: GtRows,
  dt: DtRows,
  geometry: RegionGeometry,
  iouThrs: readonly number[],
  areaRng: readonly AreaRange[],
): CellEvaluation {
  const T = iouThrs.length;
  const A = areaRng.length;
  const N = dt.ids.length;
  const flags = new Uint8Array(A * T * N);
  const npig = new Int32Array(layout.K * A);
  const s = new CellScratch();
  const matchedBit = MATCHED;
  const ignoredBit = IGNORED;
  for (let k = 0; k < layout.K; k++) {
    for (let i = 0; i < layout.I; i++) {
      const c = k * layout.I + i;
      const dtStart = dt.cellStart[c];
      const nDt = dt.cellStart[c + 1] - dtStart;
      const gtStart = gt.cellStart[c];
      const nGt = gt.cellStart[c + 1] - gtStart;
      if (nDt === 0 && nGt === 0) continue; // pycocotools: evaluateImg returns None
      s.fit(T, nDt, nGt);
      if (nDt > 0 && nGt > 0) geometry.iou(dtStart, nDt, gtStart, nGt, gt.crowd, s.ious);
      for (let a = 0; a < A; a++) {
        const lo = areaRng[a][0];
        const hi = areaRng[a][1];
        npig[k * A + a] += sortGtForArea(gt, gtStart, nGt, areaRng[a], s);
        matchCell(iouThrs, nDt, nGt, s.ious, s.gtOrder, s.gtIgnore, s.gtCrowd, dt.ids, dtStart, s);
        for (let t = 0; t < T; t++) {
          for (let d = 0; d < nDt; d++) {
            const m = s.dtMatch[t * nDt + d];
            const matched = m >= 0 && gt.ids[gtStart + s.gtOrder[m]] !== 0;
            let ignored = m >= 0 && s.gtIgnore[m] === 1;
            // unmatched detections outside the area range are ignored (`dtm == 0 and area outside aRng`)
            if (!matched) {
              const area = dt.area[dtStart + d];
              if (area < lo || area > hi) ignored = true;
            }
            flags[((dtStart + d) * A + a) * T + t] = (matched ? matchedBit : 0) | (ignored ? ignoredBit : 0);
          }
        }
      }
    }
  }
  return { flags, npig };
}
