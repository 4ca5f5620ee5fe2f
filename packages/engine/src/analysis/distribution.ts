/** Summary of a set of values in [lo, hi] for the JSON report: count, mean, quartiles and a histogram. */

export interface DistributionSummary {
  count: number;
  mean: number | null;
  median: number | null;
  p25: number | null;
  p75: number | null;
  /** `counts[i]` values fall in [lo + i*w, lo + (i+1)*w) with w = (hi - lo) / bins; the last bin includes hi. */
  histogram: { range: [number, number]; counts: number[] };
}

/** Linear-interpolated quantile of sorted values (numpy's default 'linear' method). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const at = p * (n - 1);
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function histogramCounts(values: ArrayLike<number>, bins: number, range: [number, number]): number[] {
  const [lo, hi] = range;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue;
    counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))] += 1;
  }
  return counts;
}

export function summarizeDistribution(values: ArrayLike<number>, bins = 20, range: [number, number] = [0, 1]): DistributionSummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : null,
    median: quantileSorted(sorted, 0.5),
    p25: quantileSorted(sorted, 0.25),
    p75: quantileSorted(sorted, 0.75),
    histogram: { range, counts: histogramCounts(sorted, bins, range) },
  };
}
