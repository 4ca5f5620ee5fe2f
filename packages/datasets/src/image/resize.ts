/**
 * Bilinear resize of HWC images, following Pillow's `Image.resize(..., BILINEAR)` that detectron2's
 * `ResizeTransform` uses for uint8 images (detectron2/data/transforms/transform.py; Pillow
 * src/libImaging/Resample.c): a separable triangle filter with pixel centres at +0.5, whose support
 * is widened by the scale factor when downscaling (so downscaling averages, i.e. antialiases, instead of
 * sampling), horizontal pass first, each pass rounded back to uint8, edges handled by renormalising the
 * weights over the pixels that exist (equivalent to edge replication for upscaling).
 *
 * uint8 images use Pillow's 22-bit fixed-point weights and rounding (`normalize_coeffs_8bpc`, `clip8`),
 * so results should match Pillow bit for bit. Float32 images are resized with float weights, unrounded.
 */
import type { RgbImage } from '../sample';

interface FilterCoefficients {
  /** first input index per output index */
  start: Int32Array;
  /** number of taps per output index */
  count: Int32Array;
  /** taps, `maxTaps` per output index, normalised to sum 1 */
  weights: Float64Array;
  /** the same taps in Pillow's fixed point: round(w * 2^22) */
  fixedWeights: Float64Array;
  maxTaps: number;
}

/** Pillow's PRECISION_BITS = 32 - 8 - 2. */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

const coefficientCache = new Map<string, FilterCoefficients>();

/** Pillow `precompute_coeffs` with the bilinear (triangle) filter, support 1. */
function filterCoefficients(inSize: number, outSize: number): FilterCoefficients {
  const key = `${inSize}:${outSize}`;
  const cached = coefficientCache.get(key);
  if (cached) return cached;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // triangle support 1.0 * filterscale
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  const fixedWeights = new Float64Array(outSize * maxTaps);
  const invFilterScale = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // (int) casts in C truncate toward zero
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = Math.max(0, 1 - Math.abs((x + xmin - center + 0.5) * invFilterScale));
      weights[xx * maxTaps + x] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) weights[xx * maxTaps + x] /= total;
    // normalize_coeffs_8bpc: round half away from zero (weights are >= 0 here)
    for (let x = 0; x < xmax; x++) fixedWeights[xx * maxTaps + x] = Math.floor(weights[xx * maxTaps + x] * ONE + 0.5);
    start[xx] = xmin;
    count[xx] = xmax;
  }
  const coeffs = { start, count, weights, fixedWeights, maxTaps };
  if (coefficientCache.size > 4096) coefficientCache.clear();
  coefficientCache.set(key, coeffs);
  return coeffs;
}

/** Pillow `clip8`: the fixed-point accumulator (which started at 1 << (PRECISION_BITS - 1)) shifted down and clipped. Sums are exact integers in float64. */
function clip8(acc: number): number {
  const r = Math.floor(acc / ONE);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

function resizeHorizontal(src: Uint8Array | Float32Array, h: number, w: number, c: number, outW: number): Uint8Array | Float32Array {
  const { start, count, weights: floatWeights, fixedWeights, maxTaps } = filterCoefficients(w, outW);
  const isUint8 = src instanceof Uint8Array;
  const weights = isUint8 ? fixedWeights : floatWeights;
  const init = isUint8 ? HALF : 0;
  const out = isUint8 ? new Uint8Array(h * outW * c) : new Float32Array(h * outW * c);
  for (let y = 0; y < h; y++) {
    const rowIn = y * w * c;
    const rowOut = y * outW * c;
    for (let xx = 0; xx < outW; xx++) {
      const s = start[xx], n = count[xx], k = xx * maxTaps;
      for (let ch = 0; ch < c; ch++) {
        let acc = init;
        for (let t = 0; t < n; t++) acc += src[rowIn + (s + t) * c + ch] * weights[k + t];
        out[rowOut + xx * c + ch] = isUint8 ? clip8(acc) : acc;
      }
    }
  }
  return out;
}

function resizeVertical(src: Uint8Array | Float32Array, h: number, w: number, c: number, outH: number): Uint8Array | Float32Array {
  const { start, count, weights: floatWeights, fixedWeights, maxTaps } = filterCoefficients(h, outH);
  const isUint8 = src instanceof Uint8Array;
  const weights = isUint8 ? fixedWeights : floatWeights;
  const rowLen = w * c;
  const out = isUint8 ? new Uint8Array(outH * rowLen) : new Float32Array(outH * rowLen);
  const acc = new Float64Array(rowLen);
  for (let yy = 0; yy < outH; yy++) {
    const s = start[yy], n = count[yy], k = yy * maxTaps;
    acc.fill(isUint8 ? HALF : 0);
    for (let t = 0; t < n; t++) {
      const wt = weights[k + t];
      const rowIn = (s + t) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += src[rowIn + i] * wt;
    }
    const rowOut = yy * rowLen;
    if (isUint8) for (let i = 0; i < rowLen; i++) out[rowOut + i] = clip8(acc[i]);
    else for (let i = 0; i < rowLen; i++) out[rowOut + i] = acc[i];
  }
  return out;
}

/** Resize interleaved `[h, w, c]` pixel data to `[outH, outW, c]` (Pillow bilinear semantics, see the file comment). */
export function resizePixels(data: Uint8Array | Float32Array, h: number, w: number, c: number, outH: number, outW: number): Uint8Array | Float32Array {
  if (!(Number.isInteger(outH) && Number.isInteger(outW) && outH > 0 && outW > 0)) {
    throw new Error(`resizePixels: target size must be positive integers, got ${outH}x${outW}`);
  }
  if (data.length !== h * w * c) throw new Error(`resizePixels: data has ${data.length} values, expected ${h}*${w}*${c}`);
  let out = data;
  if (outW !== w) out = resizeHorizontal(out, h, w, c, outW);
  if (outH !== h) out = resizeVertical(out, h, outW, c, outH);
  return out === data ? data.slice() : out;
}

export function resizeImage(image: RgbImage, outH: number, outW: number): RgbImage {
  return { data: resizePixels(image.data, image.height, image.width, 3, outH, outW), height: outH, width: outW, channels: 3 };
}
