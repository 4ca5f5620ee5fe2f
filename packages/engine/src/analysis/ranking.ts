/**
 * Confidence ranks with a deterministic tie rule: rank(i) = #{j : s_j > s_i} + #{j < i : s_j = s_i},
 * i.e. the position of i in a stable sort by descending score (0 = most confident). "Among the top k"
 * means rank < k, so exactly min(k, n) outputs are in the top k even when scores tie.
 */

/** The rank of every index. */
export function descendingRanks(scores: ArrayLike<number>): Int32Array {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const ranks = new Int32Array(n);
  order.forEach((idx, r) => (ranks[idx] = r));
  return ranks;
}

/** The rank of one index (O(n), for a single query). */
export function rankOf(scores: ArrayLike<number>, index: number): number {
  const s = scores[index];
  let rank = 0;
  for (let j = 0; j < scores.length; j++) if (scores[j] > s || (scores[j] === s && j < index)) rank++;
  return rank;
}
