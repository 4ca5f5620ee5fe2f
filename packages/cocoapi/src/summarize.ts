import type { Accumulated } from './accumulate';
import { mean } from './numpy-compat';
import type { Params } from './params';
import { formatFixed, padLeft, padRight } from './py-format';

/** One line of the summary (pycocotools `_summarize(ap, iouThr, areaRng, maxDets)`). */
export interface SummaryQuery {
  /** Average precision (true) or average recall (false). */
  ap: boolean;
  /** One IoU threshold, or all thresholds when undefined. */
  iouThr?: number;
  areaRng: string;
  maxDets: number;
}

/** Short names of the 12 detection stats, in `stats` order. */
export const STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;

/** The 12 queries of pycocotools `_summarizeDets`, for the given (sorted) maxDets. */
export function detectionQueries(maxDets: readonly number[]): SummaryQuery[] {
  if (maxDets.length < 3) throw new RangeError(`summarize needs 3 maxDets values (default [1, 10, 100]), got ${JSON.stringify(maxDets)}`);
  const [m0, m1, m2] = maxDets;
  return [
    { ap: true, areaRng: 'all', maxDets: m2 },
    { ap: true, iouThr: 0.5, areaRng: 'all', maxDets: m2 },
    { ap: true, iouThr: 0.75, areaRng: 'all', maxDets: m2 },
    { ap: true, areaRng: 'small', maxDets: m2 },
    { ap: true, areaRng: 'medium', maxDets: m2 },
    { ap: true, areaRng: 'large', maxDets: m2 },
    { ap: false, areaRng: 'all', maxDets: m0 },
    { ap: false, areaRng: 'all', maxDets: m1 },
    { ap: false, areaRng: 'all', maxDets: m2 },
    { ap: false, areaRng: 'small', maxDets: m2 },
    { ap: false, areaRng: 'medium', maxDets: m2 },
    { ap: false, areaRng: 'large', maxDets: m2 },
  ];
}

function indicesWhere<T>(list: readonly T[], pred: (x: T) => boolean): number[] {
  const out: number[] = [];
  list.forEach((x, i) => {
    if (pred(x)) out.push(i);
  });
  return out;
}

/** numpy's `s[..., aind, mind]`: two index lists broadcast together into (a, m) pairs. */
function zipIndexLists(aind: number[], mind: number[]): Array<[number, number]> {
  if (aind.length !== mind.length && aind.length !== 1 && mind.length !== 1) {
    throw new RangeError(`area labels and maxDets match ${aind.length} and ${mind.length} entries; they cannot be broadcast together`);
  }
  const n = aind.length === 1 ? mind.length : aind.length;
  const pairs: Array<[number, number]> = [];
  for (let j = 0; j < n; j++) pairs.push([aind[aind.length === 1 ? 0 : j], mind[mind.length === 1 ? 0 : j]]);
  return pairs;
}

/**
 * The value of one summary query: the mean of the selected precision (or recall) entries that are > -1,
 * in numpy's element order and summation; -1 when there are none. `catIndices` restricts K (per-category stats).
 */
export function summaryValue(acc: Accumulated, p: Params, q: SummaryQuery, catIndices?: readonly number[]): number {
  const [T, R, K, A, M] = acc.counts;
  const tSel = q.iouThr === undefined ? indicesWhere(p.iouThrs, () => true) : indicesWhere(p.iouThrs, (t) => t === q.iouThr);
  const pairs = zipIndexLists(
    indicesWhere(p.areaRngLbl, (l) => l === q.areaRng),
    indicesWhere(p.maxDets, (m) => m === q.maxDets),
  );
  const kSel = catIndices ?? Array.from({ length: K }, (_, k) => k);
  const picked: number[] = [];
  if (q.ap) {
    for (const t of tSel) for (let r = 0; r < R; r++) for (const k of kSel) for (const [a, m] of pairs) {
      const v = acc.precision[(((t * R + r) * K + k) * A + a) * M + m];
      if (v > -1) picked.push(v);
    }
  } else {
    for (const t of tSel) for (const k of kSel) for (const [a, m] of pairs) {
      const v = acc.recall[((t * K + k) * A + a) * M + m];
      if (v > -1) picked.push(v);
    }
  }
  return picked.length === 0 ? -1 : mean(picked);
}

/** The printed line, character for character as pycocotools' `iStr.format(...)`. */
export function summaryLine(p: Params, q: SummaryQuery, value: number): string {
  const title = q.ap ? 'Average Precision' : 'Average Recall';
  const type = q.ap ? '(AP)' : '(AR)';
  const iouStr = q.iouThr === undefined
    ? `${formatFixed(p.iouThrs[0], 2)}:${formatFixed(p.iouThrs[p.iouThrs.length - 1], 2)}`
    : formatFixed(q.iouThr, 2);
  return ` ${padRight(title, 18)} ${type} @[ IoU=${padRight(iouStr, 9)} | area=${padLeft(q.areaRng, 6)} | maxDets=${padLeft(String(q.maxDets), 3)} ] = ${formatFixed(value, 3)}`;
}
