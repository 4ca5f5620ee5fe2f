/**
 * Pearson's correlation coefficient r = cov(x, y) / (std(x) std(y)) (the paper's section 4.4 / Fig. 4
 * number between the confidence and the IoU of matched outputs), in float64 with centred sums.
 * Null when it is undefined: fewer than two pairs, or a constant x or y.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  if (x.length !== y.length) throw new Error(`pearson: x has ${x.length} values but y has ${y.length}`);
  const n = x.length;
  if (n < 2 || isConstant(x) || isConstant(y)) return null;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return null;
  // Clamp rounding just outside [-1, 1].
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

function isConstant(v: ArrayLike<number>): boolean {
  for (let i = 1; i < v.length; i++) if (v[i] !== v[0]) return false;
  return true;
}
