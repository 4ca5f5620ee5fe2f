/**
 * The confidence of a detector output, from its class logits (every detector here classifies with
 * per-class sigmoids, as detrex's DINO / Align-DETR do):
 *  - 'max_class': a query's confidence is its highest class probability max_c sigmoid(logit[q, c]),
 *    the score by which DETR's post-processing ranks outputs (top-k over queries x classes keeps a
 *    query first through its best class). Class-agnostic, like the best-regressed sample.
 *  - 'gt_class': the probability of the GT's own class, sigmoid(logit[q, label]), the score `s` that
 *    IA-BCE trains towards t = s^alpha * IoU^(1-alpha) (paper eq. 4; `aligndetr/losses/losses.py`
 *    `prob[pos_idx_c]`).
 */
export type ConfidenceMode = 'max_class' | 'gt_class';

export const CONFIDENCE_MODES: readonly ConfidenceMode[] = ['max_class', 'gt_class'];

export function checkConfidenceMode(mode: unknown, where: string): ConfidenceMode {
  if (mode === 'max_class' || mode === 'gt_class') return mode;
  throw new Error(`${where}: confidence must be one of ${CONFIDENCE_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** max_c sigmoid(logits[q, c]) per query; `logits` is [numQueries * numClasses] row-major. */
export function maxClassScores(logits: ArrayLike<number>, numQueries: number, numClasses: number): Float64Array {
  const out = new Float64Array(numQueries);
  for (let q = 0; q < numQueries; q++) {
    let best = -Infinity;
    for (let c = 0; c < numClasses; c++) best = Math.max(best, logits[q * numClasses + c]);
    out[q] = sigmoid(best); // sigmoid is increasing: max of sigmoids = sigmoid of the max
  }
  return out;
}

/** sigmoid(logits[q, cls]) per query. */
export function classScores(logits: ArrayLike<number>, numQueries: number, numClasses: number, cls: number): Float64Array {
  const out = new Float64Array(numQueries);
  for (let q = 0; q < numQueries; q++) out[q] = sigmoid(logits[q * numClasses + cls]);
  return out;
}
