/**
 * Where two plain config trees (`configToPlain(resolveConfig(cfg))`) differ, as dotted leaf paths, and
 * whether a set of override lines accounts for exactly those differences.
 */
import { isDeepStrictEqual } from 'node:util';

const isNode = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Dotted paths where `a` and `b` differ: changed leaves (lists count as leaves) and keys on one side only. */
export function plainDiff(a: unknown, b: unknown, path = ''): string[] {
  if (isNode(a) && isNode(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => plainDiff(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return isDeepStrictEqual(a, b) ? [] : [path];
}

/** The config path an override line sets: `+a.b=1` -> `a.b`. */
export function overridePath(line: string): string {
  const eq = line.indexOf('=');
  if (eq <= 0) throw new Error(`not an override line: ${line}`);
  return line.slice(0, eq).trim().replace(/^\+/, '');
}

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}.`);

/**
 * Diff paths no override path covers, and override paths that cover no diff path (an override that
 * changes nothing). Both empty <=> the overrides account for exactly the differences.
 */
export function unexplainedDiff(diff: string[], paths: string[]): { uncovered: string[]; idle: string[] } {
  return {
    uncovered: diff.filter((d) => !paths.some((p) => under(d, p))),
    idle: paths.filter((p) => !diff.some((d) => under(d, p))),
  };
}
