/**
 * The counter-based generator that filled the parity fixtures' model weights
 * (fixtures/parity/README.md section 3), reproduced bit for bit: `lowbias32` is Chris Wellons'
 * 32-bit integer hash; value i of a tensor is `offset + scale * (2u - 1)` with
 * u = (lowbias32(lowbias32(seed) + i * 0x9e3779b9) >>> 8) / 2^24, computed in float64 and rounded
 * to float32.
 */

/** The lowbias32 integer hash; all arithmetic on uint32. */
export function lowbias32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The uniform number in [0, 1) (a multiple of 2^-24, exact) for flat index `i` of stream `seed`. */
export function prngUnit(seed: number, i: number): number {
  const h = lowbias32((lowbias32(seed) + Math.imul(i, 0x9e3779b9)) >>> 0);
  return (h >>> 8) / 16777216;
}

/** `n` values uniform in [offset - scale, offset + scale), flat row-major index i = 0..n-1. */
export function prngUniform(seed: number, n: number, offset: number, scale: number): Float32Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`prngUniform: n must be a non-negative integer, got ${n}`);
  const s = lowbias32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = lowbias32((s + Math.imul(i, 0x9e3779b9)) >>> 0);
    const u = (h >>> 8) / 16777216;
    out[i] = offset + scale * (2 * u - 1);
  }
  return out;
}
