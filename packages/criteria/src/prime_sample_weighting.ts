/**
 * Align-DETR's prime sample weighting (paper section 3.4, w_i = exp(-r_i / tau);
 * `ManyToOneCriterion.initialize_weight_table` and `aligndetr/losses/losses.py::get_local_rank`):
 * inside each GT group of an image, positives are ranked by their detached quality t, best = rank 0.
 */
import type { ImageMatch } from '@detr/matchers';

/** exp(-arange(k)/tau) (tau = Infinity: all ones, i.e. no weighting). */
export function primeSampleWeights(k: number, tau: number): Float32Array {
  const w = new Float32Array(k);
  for (let r = 0; r < k; r++) w[r] = Math.exp(-r / tau);
  return w;
}

/** Rows l = exp(-arange(match_num[l])/tau), zero-padded to max(match_num) (upstream weight_table). */
export function weightTable(matchNum: readonly number[], tau: number): Float32Array[] {
  const width = Math.max(0, ...matchNum);
  return matchNum.map((k) => {
    const row = new Float32Array(width);
    row.set(primeSampleWeights(k, tau));
    return row;
  });
}

/**
 * Rank of each matched pair inside its (image, GT) group by descending quality; `quality` is in the
 * order of the concatenated matches. Upstream reshapes each image to [n_gt, k] (GT-major, exactly k per
 * GT); grouping by GT index gives the same ranks and also handles groups of unequal size. Equal
 * qualities keep their matching order.
 */
export function localRank(quality: ArrayLike<number>, matches: readonly ImageMatch[]): Int32Array {
  let total = 0;
  for (const m of matches) total += m.tgt.length;
  if (quality.length !== total) throw new Error(`localRank: ${quality.length} qualities for ${total} matched pairs`);
  const rank = new Int32Array(total);
  let offset = 0;
  for (const { tgt } of matches) {
    const groups = new Map<number, number[]>();
    for (let i = 0; i < tgt.length; i++) {
      const g = groups.get(tgt[i]);
      if (g) g.push(offset + i);
      else groups.set(tgt[i], [offset + i]);
    }
    for (const members of groups.values()) {
      const order = [...members].sort((a, b) => quality[b] - quality[a] || a - b);
      order.forEach((pair, r) => (rank[pair] = r));
    }
    offset += tgt.length;
  }
  return rank;
}
