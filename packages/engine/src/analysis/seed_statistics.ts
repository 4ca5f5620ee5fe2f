/**
 * Mean and spread of one metric over the seeds of a row: the sample standard deviation
 * sqrt(sum (x - mean)^2 / (n - 1)) (numpy `std(ddof=1)`), undefined (null) for a single seed.
 * Missing values (null: e.g. a Pearson r that is undefined for a run) are left out and n counts the rest.
 */
export interface MetricStats {
  n: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

export function meanStd(values: readonly (number | null | undefined)[]): MetricStats {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { n, mean: null, std: null, min: null, max: null };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1)) : null;
  return { n, mean, std, min: Math.min(...v), max: Math.max(...v) };
}

/** "12.3 ± 0.4" (or "12.3" for one value, "–" for none). */
export function formatMeanStd(s: MetricStats, digits: number): string {
  if (s.mean === null) return '–';
  return s.std === null ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}
