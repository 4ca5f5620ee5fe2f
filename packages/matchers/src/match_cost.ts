/**
 * The matching cost of DINO's HungarianMatcher (detrex `detrex/modeling/matcher/matcher.py`, identical
 * in Align-DETR's `aligndetr/matchers/mixed_matcher.py`), for one image, on the CPU in float64:
 *
 *   p               = sigmoid(logit[q, c_j])                         (c_j = label of GT j)
 *   cost_class[q,j] = alpha*(1-p)^gamma*(-log(p+1e-8)) - (1-alpha)*p^gamma*(-log(1-p+1e-8))
 *   cost_bbox[q,j]  = sum_k |box[q,k] - gt[j,k]|                     (cdist p=1 on cxcywh)
 *   cost_giou[q,j]  = -GIoU(xyxy(box q), xyxy(gt j))                 (+1e-6 in both denominators)
 *   C               = cost_bbox_w*cost_bbox + cost_class_w*cost_class + cost_giou_w*cost_giou
 *
 * The class cost is computed once per (query, distinct label) and the box terms once per pair; the
 * block is [Q, n] row-major, ready for the assignment solver.
 */
import type { PredictionData } from './prediction_data';
import type { DetectionTarget } from './targets';

export interface MatchCostWeights {
  costClass: number;
  costBbox: number;
  costGiou: number;
  /** Focal cost alpha (0.25) and gamma (2). */
  alpha: number;
  gamma: number;
}

/** The unweighted terms of a block, each [Q*n] (for tests and analysis). */
export interface MatchCostParts {
  costClass: Float64Array;
  costBbox: Float64Array;
  costGiou: Float64Array;
}

function powGamma(x: number, gamma: number): number {
  return gamma === 2 ? x * x : gamma === 1 ? x : Math.pow(x, gamma);
}

/** Focal class cost of every query for one class (detrex `focal_loss_cost`). */
function focalClassCost(pred: PredictionData, b: number, cls: number, alpha: number, gamma: number, out: Float64Array): void {
  const { numQueries: Q, numClasses: C, logits } = pred;
  const base = b * Q * C + cls;
  for (let q = 0; q < Q; q++) {
    const p = 1 / (1 + Math.exp(-logits[base + q * C]));
    const pos = alpha * powGamma(1 - p, gamma) * -Math.log(p + 1e-8);
    const neg = (1 - alpha) * powGamma(p, gamma) * -Math.log(1 - p + 1e-8);
    out[q] = pos - neg;
  }
}

/**
 * Cost block [Q, n] of image `b` against its targets. With `parts`, also fills the three unweighted
 * terms (arrays of Q*n).
 */
export function matchCostBlock(pred: PredictionData, b: number, target: DetectionTarget, w: MatchCostWeights, parts?: MatchCostParts): Float64Array {
  const Q = pred.numQueries;
  const n = target.labels.length;
  const cost = new Float64Array(Q * n);
  if (n === 0) return cost;

  // Class cost per distinct label: [Q] each.
  const classCost = new Map<number, Float64Array>();
  for (let j = 0; j < n; j++) {
    const c = target.labels[j];
    if (!classCost.has(c)) {
      const col = new Float64Array(Q);
      focalClassCost(pred, b, c, w.alpha, w.gamma, col);
      classCost.set(c, col);
    }
  }
  const gtCols = target.labels.length;
  const gt = target.boxes;
  // GT boxes: cxcywh and xyxy + area, per j.
  const gx1 = new Float64Array(n), gy1 = new Float64Array(n), gx2 = new Float64Array(n), gy2 = new Float64Array(n), gArea = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const cx = gt[4 * j], cy = gt[4 * j + 1], bw = gt[4 * j + 2], bh = gt[4 * j + 3];
    gx1[j] = cx - 0.5 * bw;
    gy1[j] = cy - 0.5 * bh;
    gx2[j] = cx + 0.5 * bw;
    gy2[j] = cy + 0.5 * bh;
    gArea[j] = (gx2[j] - gx1[j]) * (gy2[j] - gy1[j]);
  }
  const classCols: Float64Array[] = [];
  for (let j = 0; j < n; j++) classCols.push(classCost.get(target.labels[j])!);

  const boxes = pred.boxes;
  const boxBase = b * Q * 4;
  for (let q = 0; q < Q; q++) {
    const o = boxBase + 4 * q;
    const cx = boxes[o], cy = boxes[o + 1], bw = boxes[o + 2], bh = boxes[o + 3];
    const x1 = cx - 0.5 * bw, y1 = cy - 0.5 * bh, x2 = cx + 0.5 * bw, y2 = cy + 0.5 * bh;
    const area = (x2 - x1) * (y2 - y1);
    const row = q * gtCols;
    for (let j = 0; j < n; j++) {
      const l1 = Math.abs(cx - gt[4 * j]) + Math.abs(cy - gt[4 * j + 1]) + Math.abs(bw - gt[4 * j + 2]) + Math.abs(bh - gt[4 * j + 3]);
      const iw = Math.min(x2, gx2[j]) - Math.max(x1, gx1[j]);
      const ih = Math.min(y2, gy2[j]) - Math.max(y1, gy1[j]);
      const inter = (iw > 0 ? iw : 0) * (ih > 0 ? ih : 0);
      const union = area + gArea[j] - inter;
      const iou = inter / (union + 1e-6);
      const ew = Math.max(x2, gx2[j]) - Math.min(x1, gx1[j]);
      const eh = Math.max(y2, gy2[j]) - Math.min(y1, gy1[j]);
      const enclosing = (ew > 0 ? ew : 0) * (eh > 0 ? eh : 0);
      const giou = iou - (enclosing - union) / (enclosing + 1e-6);
      const cls = classCols[j][q];
      cost[row + j] = w.costBbox * l1 + w.costClass * cls + w.costGiou * -giou;
      if (parts) {
        parts.costClass[row + j] = cls;
        parts.costBbox[row + j] = l1;
        parts.costGiou[row + j] = -giou;
      }
    }
  }
  return cost;
}
