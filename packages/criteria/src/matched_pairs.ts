/**
 * Matched (query, GT) pairs of one output, flattened over the batch in matching order (detrex
 * `_get_src_permutation_idx` + the concatenated `targets[b][J]`), with the detached values the
 * quality-aware losses need: the matched probability s = sigmoid(logit[b, q, label]) and the IoU of
 * the matched boxes, inter / (union + 1e-6) (detrex `box_iou`), computed in float64 on the CPU.
 */
import type { DetectionTarget, ImageMatch, PredictionData } from '@detr/matchers';

export interface MatchedPairs {
  count: number;
  /** Row of each pair in pred_boxes viewed as [B*Q, 4]: b*Q + q. */
  rows: Int32Array;
  /** Flat index of each pair in pred_logits [B*Q*C]: (b*Q + q)*C + label. */
  entries: Int32Array;
  /** GT boxes of the pairs [M*4], cxcywh. */
  targetBoxes: Float32Array;
}

export function gatherMatchedPairs(
  matches: readonly ImageMatch[],
  targets: readonly DetectionTarget[],
  numQueries: number,
  numClasses: number,
  where: string,
): MatchedPairs {
  if (matches.length !== targets.length) throw new Error(`${where}: ${matches.length} image matches for ${targets.length} targets`);
  let count = 0;
  for (const m of matches) count += m.src.length;
  const rows = new Int32Array(count);
  const entries = new Int32Array(count);
  const targetBoxes = new Float32Array(count * 4);
  let at = 0;
  matches.forEach(({ src, tgt }, b) => {
    const { labels, boxes } = targets[b];
    if (src.length !== tgt.length) throw new Error(`${where}: image ${b} has ${src.length} query indices but ${tgt.length} GT indices`);
    for (let i = 0; i < src.length; i++, at++) {
      const q = src[i];
      const j = tgt[i];
      if (!(q >= 0 && q < numQueries)) throw new Error(`${where}: image ${b} matches query ${q}, outside [0, ${numQueries})`);
      if (!(j >= 0 && j < labels.length)) throw new Error(`${where}: image ${b} matches GT ${j} but has ${labels.length} GT boxes`);
      rows[at] = b * numQueries + q;
      entries[at] = rows[at] * numClasses + labels[j];
      targetBoxes.set(boxes.subarray(4 * j, 4 * j + 4), 4 * at);
    }
  });
  return { count, rows, entries, targetBoxes };
}

/** Detached matched probability and IoU of every pair. */
export function matchedScoreAndIou(pred: PredictionData, pairs: MatchedPairs): { score: Float64Array; iou: Float64Array } {
  const score = new Float64Array(pairs.count);
  const iou = new Float64Array(pairs.count);
  for (let i = 0; i < pairs.count; i++) {
    score[i] = 1 / (1 + Math.exp(-pred.logits[pairs.entries[i]]));
    const o = 4 * pairs.rows[i];
    const g = 4 * i;
    const [pcx, pcy, pw, ph] = [pred.boxes[o], pred.boxes[o + 1], pred.boxes[o + 2], pred.boxes[o + 3]];
    const [gcx, gcy, gw, gh] = [pairs.targetBoxes[g], pairs.targetBoxes[g + 1], pairs.targetBoxes[g + 2], pairs.targetBoxes[g + 3]];
    const px1 = pcx - 0.5 * pw, py1 = pcy - 0.5 * ph, px2 = pcx + 0.5 * pw, py2 = pcy + 0.5 * ph;
    const gx1 = gcx - 0.5 * gw, gy1 = gcy - 0.5 * gh, gx2 = gcx + 0.5 * gw, gy2 = gcy + 0.5 * gh;
    const iw = Math.max(Math.min(px2, gx2) - Math.max(px1, gx1), 0);
    const ih = Math.max(Math.min(py2, gy2) - Math.max(py1, gy1), 0);
    const inter = iw * ih;
    const union = (px2 - px1) * (py2 - py1) + (gx2 - gx1) * (gy2 - gy1) - inter;
    iou[i] = inter / (union + 1e-6);
  }
  return { score, iou };
}
