/**
 * im2col from tfjs ops for the Conv2D filter gradient where conv2d_wasm.ts's kernel does not run
 * (cpu, tfjs-node, or the own conv turned off): the patches of x, one row per output pixel,
 *   cols[(n·Ho + i)·Wo + j, (a·kw + b)·Cin + c] = x[n, i·sh + a·dh - pt, j·sw + b·dw - pl, c]
 * (0 outside x), shape [N·Ho·Wo, kh·kw·Cin]. On wasm the patch matrix is never written: its
 * micro-panels are packed from x through offset tables (conv2d_wasm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2DInfo } from './conv2d_grad';

/** The geometry im2col needs (a subset of tfjs's Conv2DInfo). */
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

/** cols [N·Ho·Wo, kh·kw·Cin] of x [N,H,W,Cin] from tfjs ops, on any backend. */
export function im2col(x: tf.Tensor4D, info: Conv2DInfo): tf.Tensor2D {
  return im2colFromOps(x, im2colAttrs(info));
}
