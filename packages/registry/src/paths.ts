/** Dotted config paths and "did you mean" suggestions shared by references and overrides. */

export function splitPath(path: string): string[] {
  if (path === '') return [];
  const parts = path.split('.');
  if (parts.some((p) => p === '')) throw new Error(`invalid config path "${path}"`);
  return parts;
}

export function joinPath(parts: readonly string[]): string {
  return parts.length ? parts.join('.') : '<root>';
}

/** Levenshtein distance, for nearest-key suggestions. */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** Up to `n` keys closest to `wanted` (substring matches first, then by edit distance). */
export function nearestKeys(wanted: string, keys: readonly string[], n = 5): string[] {
  const w = wanted.toLowerCase();
  return [...keys]
    .map((k) => {
      const kl = k.toLowerCase();
      const sub = kl.includes(w) || w.includes(kl) ? 0 : 1;
      return { k, score: sub * 1000 + editDistance(w, kl) };
    })
    .sort((a, b) => a.score - b.score || a.k.localeCompare(b.k))
    .slice(0, n)
    .map((e) => e.k);
}

export function describeKeys(wanted: string, keys: readonly string[]): string {
  if (keys.length === 0) return 'it has no keys';
  const near = nearestKeys(wanted, keys);
  const all = keys.length <= 30 ? `; valid keys: ${[...keys].join(', ')}` : `; ${keys.length} keys in all`;
  return `nearest valid keys: ${near.join(', ')}${all}`;
}
