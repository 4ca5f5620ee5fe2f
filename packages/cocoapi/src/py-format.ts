/**
 * Python's `'{:0.Nf}'.format(x)`: correctly rounded, ties (exactly representable halves such as 0.0625)
 * to even. JavaScript's toFixed rounds those ties away from zero, so they are handled here.
 */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const mag = Math.abs(x);
  let text = mag.toFixed(digits);
  // toFixed(100) is the exact decimal expansion for any double >= 2^-47; smaller ones cannot be ties here.
  if (mag >= 2 ** -47 && mag < 1e21) {
    const exact = mag.toFixed(100);
    const dot = exact.indexOf('.');
    const rest = exact.slice(dot + 1 + digits);
    if (rest[0] === '5' && /^50*$/.test(rest)) {
      const down = exact.slice(0, dot + 1 + digits).replace(/\.$/, '');
      const lastDigit = Number(down[down.length - 1]);
      if (lastDigit % 2 === 0) text = down; // half to even: keep the even truncation
    }
  }
  return negative ? `-${text}` : text;
}

/** Python's `'{:<n}'` for strings. */
export function padRight(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

/** Python's `'{:>n}'` for strings and integers. */
export function padLeft(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}
