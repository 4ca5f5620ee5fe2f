/**
 * Pairwise IoU of boxes given as plain numbers (normalised cxcywh, the detector outputs' and targets'
 * format), in float64 on the CPU: the analysis reads a few hundred queries x a few GT per image, far
 * too small to be worth a tensor round trip. IoU = intersection / union (detrex `box_iou` without the
 * 1e-6; a zero union gives IoU 0). IoU does not change under a per-axis scaling, so normalised boxes
 * give the same IoU as pixel boxes of the same (unpadded) image.
 */

/** [numA * numB] row-major: entry (i, j) = IoU(a_i, b_j). `a` holds numA*4 values, `b` numB*4. */
export function pairwiseIouCxcywh(a: ArrayLike<number>, numA: number, b: ArrayLike<number>, numB: number): Float64Array {
  if (a.length !== numA * 4) throw new Error(`pairwiseIouCxcywh: the first box set has ${a.length} values for ${numA} boxes (expected ${numA * 4})`);
  if (b.length !== numB * 4) throw new Error(`pairwiseIouCxcywh: the second box set has ${b.length} values for ${numB} boxes (expected ${numB * 4})`);
  // Corners of b once: [x1, y1, x2, y2, area] per box.
  const bc = new Float64Array(numB * 5);
  for (let j = 0; j < numB; j++) {
    const cx = b[4 * j], cy = b[4 * j + 1], w = b[4 * j + 2], h = b[4 * j + 3];
    bc[5 * j] = cx - w / 2;
    bc[5 * j + 1] = cy - h / 2;
    bc[5 * j + 2] = cx + w / 2;
    bc[5 * j + 3] = cy + h / 2;
    bc[5 * j + 4] = w * h;
  }
  const out = new Float64Array(numA * numB);
  for (let i = 0; i < numA; i++) {
    const cx = a[4 * i], cy = a[4 * i + 1], w = a[4 * i + 2], h = a[4 * i + 3];
    const ax1 = cx - w / 2, ay1 = cy - h / 2, ax2 = cx + w / 2, ay2 = cy + h / 2;
    const areaA = w * h;
    for (let j = 0; j < numB; j++) {
      const iw = Math.min(ax2, bc[5 * j + 2]) - Math.max(ax1, bc[5 * j]);
      const ih = Math.min(ay2, bc[5 * j + 3]) - Math.max(ay1, bc[5 * j + 1]);
      const inter = iw > 0 && ih > 0 ? iw * ih : 0;
      const union = areaA + bc[5 * j + 4] - inter;
      out[i * numB + j] = union > 0 ? inter / union : 0;
    }
  }
  return out;
}
