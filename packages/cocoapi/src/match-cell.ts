/**
 * Greedy matching of one cell for one area range: the loop of pycocotools `COCOeval.evaluateImg`
 * (cocoeval.py), kept step for step:
 *
 *   for each IoU threshold t, for each detection d in score order:
 *     best = min(t, 1 - 1e-10); m = -1
 *     for each ground truth g in ignore-sorted order (regular first):
 *       skip g if it is already matched and not a crowd (crowds can take any number of detections)
 *       stop   if m is a regular ground truth and g is an ignored one
 *       skip g if iou(d, g) < best
 *       best = iou(d, g); m = g            (so an equal IoU later in the order wins)
 *     if m >= 0: d takes m's ignore flag; gtMatches[t][m] = id of d; dtMatches[t][d] = id of m
 *
 * "Already matched" is `gtMatches > 0` on detection ids, as in pycocotools.
 */
export interface CellMatchScratch {
  /** `dtMatch[t * nDt + d]`: the ignore-sorted position of the matched ground truth, or -1. */
  dtMatch: Int32Array;
  /** `gtMatch[t * nGt + j]`: id of the detection matched to ground truth at sorted position j, or 0. */
  gtMatch: Float64Array;
}

/**
 * @param ious     `ious[d * nGt + g]` with g in cell order
 * @param gtOrder  `gtOrder[j]`: cell-order index of the ground truth at sorted position j
 * @param gtIgnore ignore flag by sorted position
 * @param gtCrowd  crowd flag by sorted position
 * @param dtIds    detection ids, row `dtStart + d`
 */
export function matchCell(
  iouThrs: readonly number[],
  nDt: number,
  nGt: number,
  ious: Float64Array,
  gtOrder: Int32Array,
  gtIgnore: Uint8Array,
  gtCrowd: Uint8Array,
  dtIds: Float64Array,
  dtStart: number,
  out: CellMatchScratch,
): void {
  const T = iouThrs.length;
  out.dtMatch.fill(-1, 0, T * nDt);
  out.gtMatch.fill(0, 0, T * nGt);
  if (nDt === 0 || nGt === 0) return;
  for (let t = 0; t < T; t++) {
    const thr = Math.min(iouThrs[t], 1 - 1e-10);
    const gm = t * nGt;
    for (let d = 0; d < nDt; d++) {
      let best = thr;
      let m = -1;
      const row = d * nGt;
      for (let j = 0; j < nGt; j++) {
        if (out.gtMatch[gm + j] > 0 && gtCrowd[j] === 0) continue;
        if (m > -1 && gtIgnore[m] === 0 && gtIgnore[j] === 1) break;
        const v = ious[row + gtOrder[j]];
        if (v < best) continue;
        best = v;
        m = j;
      }
      if (m === -1) continue;
      out.dtMatch[t * nDt + d] = m;
      out.gtMatch[gm + m] = dtIds[dtStart + d];
    }
  }
}
