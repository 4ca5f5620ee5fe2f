/**
 * The few numpy routines whose exact floating-point behaviour pycocotools' numbers depend on.
 * Reproduced operation by operation so that results agree bit for bit with numpy 2.x.
 */

/**
 * `np.linspace(start, stop, num, endpoint=True)`: `i * step + start` with `step = (stop - start) / (num - 1)`,
 * and the last value set to `stop` exactly (numpy/_core/function_base.py).
 */
export function linspace(start: number, stop: number, num: number): number[] {
  if (!Number.isInteger(num) || num < 0) throw new RangeError(`linspace: num must be a non-negative integer, got ${num}`);
  if (num === 0) return [];
  if (num === 1) return [0 * (stop - start) + start];
  const div = num - 1;
  const delta = stop - start;
  const step = delta / div;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  out[num - 1] = stop;
  return out;
}

/** The thresholds pycocotools builds as `np.linspace(lo, hi, int(np.round((hi - lo) / inc)) + 1)` (cocoeval.py Params). */
export function pycocoRange(lo: number, hi: number, inc: number): number[] {
  return linspace(lo, hi, roundHalfEven((hi - lo) / inc) + 1);
}

/** `np.round` for a scalar (round half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.spacing(1)`: the gap from 1.0 to the next double. */
export const SPACING_1 = Number.EPSILON;

const PAIRWISE_BLOCK = 128;

/**
 * numpy's float64 pairwise summation (`DOUBLE_pairwise_sum`, numpy/_core/src/umath/loops_utils.h.src):
 * 8 partial sums up to 128 elements, recursive halving (at multiples of 8) above. `np.sum` / `np.mean`
 * over a contiguous array add this to the identity 0.
 */
export function pairwiseSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    let r0 = a[start], r1 = a[start + 1], r2 = a[start + 2], r3 = a[start + 3];
    let r4 = a[start + 4], r5 = a[start + 5], r6 = a[start + 6], r7 = a[start + 7];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const o = start + i;
      r0 += a[o]; r1 += a[o + 1]; r2 += a[o + 2]; r3 += a[o + 3];
      r4 += a[o + 4]; r5 += a[o + 5]; r6 += a[o + 6]; r7 += a[o + 7];
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** `np.mean` of a float64 array (pairwise sum, then one division). NaN for an empty array, as numpy. */
export function mean(a: ArrayLike<number>): number {
  return (0 + pairwiseSum(a)) / a.length;
}
