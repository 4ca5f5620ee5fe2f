/**
 * IEEE 754 binary16 (float16) and bfloat16 bit patterns <-> numbers. Decoding is exact; encoding
 * rounds to nearest, ties to even (as PyTorch's `.half()` / `.bfloat16()` do).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The value of a float16 bit pattern (exact). */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** The value of a bfloat16 bit pattern: the upper 16 bits of a float32 (exact). */
export function bfloat16BitsToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** The float16 bit pattern nearest to float32(`value`) (ties to even; overflow -> infinity). */
export function numberToFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(Math.fround(value)); // binary16 rounding of the float32 value, as torch does from float32
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // subnormal range: units of 2^-24
    const q = roundHalfEven(a * 2 ** 24);
    return sign | q; // q = 1024 rolls over into the smallest normal, which is the right pattern
  }
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent -= 1; // guard log2 rounding
  else if (2 ** (exponent + 1) <= a) exponent += 1;
  const mantissa = roundHalfEven((a / 2 ** exponent - 1) * 1024); // exact scaling by a power of two
  let e = exponent + 15;
  let m = mantissa;
  if (m === 1024) { m = 0; e += 1; }
  if (e >= 0x1f) return sign | 0x7c00;
  return sign | (e << 10) | m;
}

/** The bfloat16 bit pattern nearest to `value` (ties to even on the float32 bits). */
export function numberToBfloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  if (Number.isNaN(f32[0])) return ((bits >>> 16) | 0x40) & 0xffff; // keep a quiet NaN
  const roundingBias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + roundingBias) >>> 16) & 0xffff;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
