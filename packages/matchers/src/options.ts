/**
 * Checks of the one options object that registered parts receive from `instantiate` (snake_case keys
 * as detrex's). An unknown key is an error naming the part and the keys it accepts, so a typo in a
 * config or a `_target_` swap between parts with different options never passes silently.
 */

/** Throws unless every key of `opts` is in `allowed`. */
export function checkOptionKeys(part: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined || opts === null) return;
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new Error(`${part}: options must be an object with keys ${allowed.join(', ')}`);
  }
  const unknown = Object.keys(opts).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new Error(`${part}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; accepted: ${allowed.join(', ')}`);
  }
}

/** A finite number (or the default when undefined); otherwise an error naming the option. */
export function numberOption(part: string, name: string, value: unknown, fallback: number, check?: (v: number) => boolean, rule?: string): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || Number.isNaN(v) || (check && !check(v))) {
    throw new Error(`${part}: option ${name} must be ${rule ?? 'a number'}, got ${JSON.stringify(value)}`);
  }
  return v;
}
