/**
 * Box IoU exactly as cocoapi's C `bbIou` (common/maskApi.c), in the same order of double operations so that
 * IoUs lying exactly on a threshold compare the same way:
 *   w = min(dx+dw, gx+gw) - max(dx, gx);  h likewise;  0 when w <= 0 or h <= 0;
 *   IoU = w*h / (crowd ? dw*dh : dw*dh + gw*gh - w*h)
 * A crowd ground truth is scored by intersection over the detection's area.
 *
 * Boxes are `[x, y, w, h]` rows of `boxes` arrays. Fills `out[d * nGt + g]` for dt rows `dtStart..+nDt` and gt rows
 * `gtStart..+nGt`; `crowd[gtStart + g]` flags crowd ground truths.
 */
export function bboxIou(
  dtBoxes: Float64Array, dtStart: number, nDt: number,
  gtBoxes: Float64Array, gtStart: number, nGt: number,
  crowd: Uint8Array, out: Float64Array,
): void {
  for (let g = 0; g < nGt; g++) {
    const go = (gtStart + g) * 4;
    const gx = gtBoxes[go], gy = gtBoxes[go + 1], gw = gtBoxes[go + 2], gh = gtBoxes[go + 3];
    const ga = gw * gh;
    const isCrowd = crowd[gtStart + g] !== 0;
    for (let d = 0; d < nDt; d++) {
      const o = (dtStart + d) * 4;
      const dx = dtBoxes[o], dy = dtBoxes[o + 1], dw = dtBoxes[o + 2], dh = dtBoxes[o + 3];
      const da = dw * dh;
      let iou = 0;
      const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (w > 0) {
        const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
        if (h > 0) {
          const inter = w * h;
          iou = inter / (isCrowd ? da : da + ga - inter);
        }
      }
      out[d * nGt + g] = iou;
    }
  }
}
