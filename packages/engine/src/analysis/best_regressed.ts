/**
 * Best-regressed (BR) and highest-confidence (HC) samples of one image (Align-DETR paper, section 1 and
 * Fig. 1; the paper gives the idea, not code, so the precise definitions are ours and are these):
 *
 * For an image with N > 0 GT boxes and Q outputs (the final decoder layer's queries):
 *  - The BR sample of GT g is the output with the highest IoU with g (the lowest query index on ties),
 *    whatever class it predicts. Its IoU, max_q IoU(q, g), is "the BR IoU" of g (Fig. 1b).
 *  - Its rank is its position by descending confidence (ranking.ts, 0 = most confident), with the
 *    confidence chosen by `mode` (confidence.ts): 'max_class' ranks all outputs once by their best class
 *    probability; 'gt_class' ranks them, for GT g, by the probability of g's class.
 *  - Recall at top-k (Fig. 1a: k = N and 2N) is the fraction of GTs whose BR sample ranks < k, i.e. is
 *    among the k most confident outputs ("more BR samples are selected in the final prediction").
 *  - HC samples (Fig. 1b): with 'max_class', the N most confident outputs of the image, each with its
 *    IoU with the GT it overlaps most (max over the image's GTs); with 'gt_class', for each GT the
 *    output with the highest probability of the GT's class, with its IoU with that GT. Either way there
 *    are N HC samples per image, as there are N BR samples, and perfectly aligned outputs give the same
 *    two IoU distributions. (With 'gt_class', GTs of the same class share that class's ranking, so
 *    they compete for the same top-k places and may share their HC sample.)
 */
import { pairwiseIouCxcywh } from './box_iou';
import { classScores, maxClassScores, type ConfidenceMode } from './confidence';
import { checkImageInputs, type ImagePredictions, type ImageTargets } from './image_inputs';
import { descendingRanks, rankOf } from './ranking';

export interface BestRegressedResult {
  /** Per GT: the BR query. */
  brQuery: Int32Array;
  /** Per GT: IoU of its BR query with it. */
  brIou: Float64Array;
  /** Per GT: confidence rank of its BR query (0 = most confident). */
  brRank: Int32Array;
  /** The N HC queries (see the file comment for each mode). */
  hcQuery: Int32Array;
  /** IoU of each HC query (with its most-overlapping GT, or with its own GT for 'gt_class'). */
  hcIou: Float64Array;
}

/** Number of GTs whose BR sample is among the k most confident outputs. */
export function countRecalledAtK(result: BestRegressedResult, k: number): number {
  let hits = 0;
  for (const r of result.brRank) if (r < k) hits++;
  return hits;
}

/**
 * BR / HC samples of one image. `iou` may pass the [Q * N] IoU matrix (pairwiseIouCxcywh of the
 * outputs and the GT boxes) when the caller has it already.
 */
export function bestRegressedSamples(
  pred: ImagePredictions,
  target: ImageTargets,
  mode: ConfidenceMode,
  iou?: Float64Array,
  where = 'bestRegressedSamples',
): BestRegressedResult {
  checkImageInputs(pred, target, where);
  const { numQueries: q, numClasses: c } = pred;
  const n = target.labels.length;
  const ious = iou ?? pairwiseIouCxcywh(pred.boxes, q, target.boxes, n);
  if (ious.length !== q * n) throw new Error(`${where}: the IoU matrix has ${ious.length} entries, expected ${q}*${n}`);

  const brQuery = new Int32Array(n);
  const brIou = new Float64Array(n);
  for (let g = 0; g < n; g++) {
    let best = 0;
    for (let i = 1; i < q; i++) if (ious[i * n + g] > ious[best * n + g]) best = i;
    brQuery[g] = best;
    brIou[g] = ious[best * n + g];
  }

  const brRank = new Int32Array(n);
  const numHc = Math.min(n, q);
  const hcQuery = new Int32Array(numHc);
  const hcIou = new Float64Array(numHc);
  if (mode === 'max_class') {
    const ranks = descendingRanks(maxClassScores(pred.logits, q, c));
    for (let g = 0; g < n; g++) brRank[g] = ranks[brQuery[g]];
    for (let i = 0; i < q; i++) {
      const r = ranks[i];
      if (r >= numHc) continue;
      hcQuery[r] = i;
      let m = 0;
      for (let g = 0; g < n; g++) m = Math.max(m, ious[i * n + g]);
      hcIou[r] = m;
    }
  } else {
    const byClass = new Map<number, Float64Array>();
    for (let g = 0; g < n; g++) {
      const cls = target.labels[g];
      let scores = byClass.get(cls);
      if (!scores) byClass.set(cls, (scores = classScores(pred.logits, q, c, cls)));
      brRank[g] = rankOf(scores, brQuery[g]);
      if (g < numHc) {
        let top = 0;
        for (let i = 1; i < q; i++) if (scores[i] > scores[top]) top = i;
        hcQuery[g] = top;
        hcIou[g] = ious[top * n + g];
      }
    }
  }
  return { brQuery, brIou, brRank, hcQuery, hcIou };
}
