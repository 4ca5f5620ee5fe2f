/**
 * Confidence and IoU of the matched outputs of one image (the paper's Fig. 4 and its Pearson
 * coefficient: "the confidence and IoU's distribution of matched samples"). The matching is the
 * final layer's one-to-one Hungarian matching (@detr/matchers HungarianMatcher with the criterion's
 * costs; see analyze_detector.ts); for each pair (query q, GT g):
 *   confidence = the probability of g's class at q ('gt_class', the IA-BCE `s`), or q's best class
 *                probability ('max_class');
 *   IoU        = IoU(box_q, box_g).
 */
import { pairwiseIouCxcywh } from './box_iou';
import { sigmoid, type ConfidenceMode } from './confidence';
import { checkImageInputs, checkMatch, type ImageMatchPairs, type ImagePredictions, type ImageTargets } from './image_inputs';

export interface MatchedSamples {
  confidence: Float64Array;
  iou: Float64Array;
}

export function matchedSamples(
  pred: ImagePredictions,
  target: ImageTargets,
  match: ImageMatchPairs,
  mode: ConfidenceMode,
  iou?: Float64Array,
  where = 'matchedSamples',
): MatchedSamples {
  checkImageInputs(pred, target, where);
  const { numQueries: q, numClasses: c } = pred;
  const n = target.labels.length;
  checkMatch(match, q, n, where);
  const ious = iou ?? pairwiseIouCxcywh(pred.boxes, q, target.boxes, n);
  const m = match.src.length;
  const confidence = new Float64Array(m);
  const out = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const query = match.src[k], g = match.tgt[k];
    if (mode === 'gt_class') {
      confidence[k] = sigmoid(pred.logits[query * c + target.labels[g]]);
    } else {
      let best = -Infinity;
      for (let cls = 0; cls < c; cls++) best = Math.max(best, pred.logits[query * c + cls]);
      confidence[k] = sigmoid(best);
    }
    out[k] = ious[query * n + g];
  }
  return { confidence, iou: out };
}
