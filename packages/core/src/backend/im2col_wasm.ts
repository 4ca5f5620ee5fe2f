/**
 * im2col for the Conv2D filter gradient (conv2d_grad.ts): the patches of x, one row per output pixel,
 *   cols[(n·Ho + i)·Wo + j, (a·kw + b)·Cin + c] = x[n, i·sh + a·dh - pt, j·sw + b·dw - pl, c]
 * (0 outside x), shape [N·Ho·Wo, kh·kw·Cin].
 *
 * On wasm a JS kernel (`DetrIm2Col`, im2colTransposed) writes colsᵀ in one pass over the heap from x in channel-major
 * order, where each row of colsᵀ is made of runs of Wo input pixels (memcpy for stride 1). Built from tfjs ops (pad,
 * stride-phase transpose, kh·kw slices, concat along axis 1), as elsewhere, it cost far more than the
 * product it feeds where Cin is small: tfjs-wasm's Concat copies each row of each input with
 * `TypedArray.set`, i.e. N·Ho·Wo·kh·kw calls of Cin floats, and its rank-6 Transpose takes a
 * per-element path (small Align-DETR step, batch 4 x 128 px: the 7x7 stem's filter gradient took
 * 123 ms against 6.7 ms for its forward conv; 92 ms of it in the concat).
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2DInfo } from './conv2d_grad';

export const IM2COL_KERNEL = 'DetrIm2Col';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The geometry the kernel needs (a subset of tfjs's Conv2DInfo, plain numbers so it is a valid attr). */
export interface Im2ColAttrs {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pl: number;
  ho: number;
  wo: number;
}

export function im2colAttrs(info: Conv2DInfo): Im2ColAttrs {
  return {
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
    ho: info.outHeight,
    wo: info.outWidth,
  };
}

/** Runs at least this long are copied with TypedArray.set (a memcpy), shorter ones element by element. */
const MIN_SET_RUN = 16;

/**
 * Writes colsᵀ [kh·kw·Cin, N·Ho·Wo] (see the file comment) from xT, x in channel-major order
 * ([Cin, N, H, W], row-major; `shape` is x's NHWC shape), into `out`. Each output row of one tap and
 * channel is, per image row, a run of Wo input pixels: contiguous for stride 1.
 */
export function im2colTransposedInto(xT: Float32Array, shape: number[], a: Im2ColAttrs, out: Float32Array): void {
  const [n, h, w, c] = shape;
  const rows = n * a.ho * a.wo;
  let o = 0;
  for (let ky = 0; ky < a.kh; ky++) {
    for (let kx = 0; kx < a.kw; kx++) {
      // output columns j whose input column j·sw + kx·dw - pl lies inside x: [j0, j1)
      const shift = kx * a.dw - a.pl;
      const j0 = Math.min(a.wo, Math.max(0, Math.ceil(-shift / a.sw)));
      const j1 = Math.max(j0, Math.min(a.wo, Math.floor((w - 1 - shift) / a.sw) + 1));
      const contiguous = a.sw === 1 && j1 - j0 >= MIN_SET_RUN;
      for (let ci = 0; ci < c; ci++) {
        for (let b = 0; b < n; b++) {
          const plane = (ci * n + b) * h; // xT[ci, b, 0, 0] / w
          for (let i = 0; i < a.ho; i++, o += a.wo) {
            const y = i * a.sh + ky * a.dh - a.pt;
            if (y < 0 || y >= h) {
              out.fill(0, o, o + a.wo);
              continue;
            }
            if (j0 > 0) out.fill(0, o, o + j0);
            if (j1 < a.wo) out.fill(0, o + j1, o + a.wo);
            const src = (plane + y) * w + shift; // xT[ci, b, y, shift]
            if (contiguous) {
              out.set(xT.subarray(src + j0, src + j1), o + j0);
            } else {
              for (let j = j0, s = src + j0 * a.sw; j < j1; j++, s += a.sw) out[o + j] = xT[s];
            }
          }
        }
      }
    }
  }
  if (o !== a.kh * a.kw * c * rows) throw new Error(`im2col: wrote ${o} values, expected ${a.kh * a.kw * c * rows}`);
}

/** Input `xT`: x in channel-major order [Cin, N, H, W] (a rank-4 Transpose, fast on wasm). */
export const im2colWasmKernel: tf.KernelConfig = {
  kernelName: IM2COL_KERNEL,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { xT } = inputs as { xT: tf.TensorInfo };
    const a = attrs as unknown as Im2ColAttrs;
    const [c, n, h, w] = xT.shape;
    const wasm = backend as unknown as WasmBackendLike;
    const out = wasm.makeOutput([a.kh * a.kw * c, n * a.ho * a.wo], xT.dtype); // allocate before taking views (the heap may grow)
    im2colTransposedInto(wasm.typedArrayFromHeap(xT) as Float32Array, [n, h, w, c], a, wasm.typedArrayFromHeap(out) as Float32Array);
    return out;
  },
};

/**
 * xpad [N,H,W,C] split into its stride phases: -> [sh, sw, N, ceil(H/sh), ceil(W/sw), C], so that
 * xpad[:, r·sh + p, c·sw + q, :] = phases[p, q, :, r, c, :] and every strided tap is a plain slice.
 */
function stridePhases(xpad: tf.Tensor4D, sh: number, sw: number): tf.Tensor {
  const [n, h, w, c] = xpad.shape;
  const hb = Math.ceil(h / sh);
  const wb = Math.ceil(w / sw);
  const padded = hb * sh > h || wb * sw > w ? tf.pad(xpad, [[0, 0], [0, hb * sh - h], [0, wb * sw - w], [0, 0]]) : xpad;
  return padded.reshape([n, hb, sh, wb, sw, c]).transpose([2, 4, 0, 1, 3, 5]); // [sh, sw, N, Hb, Wb, C]
}

/**
 * cols from tfjs ops (other backends, where pad / slice / concat are cheap): the padded input cut
 * to the rows and columns a tap reads, split into stride phases (no StridedSlice, slow on wasm), kh·kw
 * slices side by side.
 */
function im2colFromOps(x: tf.Tensor4D, a: Im2ColAttrs): tf.Tensor2D {
  const [n, h, w, cin] = x.shape;
  return tf.tidy(() => {
    const needH = (a.ho - 1) * a.sh + (a.kh - 1) * a.dh + 1;
    const needW = (a.wo - 1) * a.sw + (a.kw - 1) * a.dw + 1;
    const xpad = padOrCrop(x, a.pt, needH - h - a.pt, a.pl, needW - w - a.pl);
    const rows = n * a.ho * a.wo;
    const phases = a.sh > 1 || a.sw > 1 ? stridePhases(xpad, a.sh, a.sw) : null;
    const taps: tf.Tensor[] = [];
    for (let ky = 0; ky < a.kh; ky++) {
      for (let kx = 0; kx < a.kw; kx++) {
        const r0 = ky * a.dh;
        const c0 = kx * a.dw;
        const tap = phases
          ? tf.slice(phases, [r0 % a.sh, c0 % a.sw, 0, Math.floor(r0 / a.sh), Math.floor(c0 / a.sw), 0], [1, 1, n, a.ho, a.wo, cin])
          : tf.slice(xpad, [0, r0, c0, 0], [n, a.ho, a.wo, cin]);
        taps.push(tap.reshape([rows, cin]));
      }
    }
    return (taps.length === 1 ? taps[0] : tf.concat(taps, 1)) as tf.Tensor2D;
  });
}

/** Pads (positive) or crops (negative) the two spatial axes of [N,H,W,C]. */
export function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = t.shape;
    const ct = Math.max(0, -top);
    const cb = Math.max(0, -bottom);
    const cl = Math.max(0, -left);
    const cr = Math.max(0, -right);
    let r = t;
    if (ct + cb + cl + cr > 0) r = tf.slice(r, [0, ct, cl, 0], [-1, h - ct - cb, w - cl - cr, -1]);
    const pt = Math.max(0, top);
    const pb = Math.max(0, bottom);
    const pl = Math.max(0, left);
    const pr = Math.max(0, right);
    if (pt + pb + pl + pr > 0) r = tf.pad(r, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
    return r;
  });
}

/** Whether im2colTransposed runs for x here: the wasm backend with the kernel registered, float32. */
export function im2colKernelApplies(x: tf.Tensor): boolean {
  return tf.getBackend() === 'wasm' && x.dtype === 'float32' && tf.getKernel(IM2COL_KERNEL, 'wasm') != null;
}

/**
 * colsᵀ [kh·kw·Cin, N·Ho·Wo] of x [N,H,W,Cin] for a conv with geometry `info` (wasm, see
 * im2colKernelApplies), i.e. the transpose of the patch matrix, the layout in which dW = colsᵀ · dy is a
 * plain product (XNNPACK's fast path; with cols and a transpose flag the product took 2-3x longer on the
 * stem and res2 shapes). Not differentiable (only gradient functions call it).
 */
export function im2colTransposed(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor2D {
  if (!im2colKernelApplies(x)) throw new Error(`im2colTransposed: needs the wasm backend with the ${IM2COL_KERNEL} kernel and float32 input`);
  return tf.tidy(() => {
    const xT = tf.transpose(x, [3, 0, 1, 2]); // [Cin, N, H, W]
    return tf.engine().runKernel(IM2COL_KERNEL, { xT }, im2colAttrs(info) as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  });
}

/** cols [N·Ho·Wo, kh·kw·Cin] of x [N,H,W,Cin] from tfjs ops, on any backend. */
export function im2col(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor2D {
  return im2colFromOps(x, im2colAttrs(info));
}
