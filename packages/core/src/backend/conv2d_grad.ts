/**
 * Gradient of Conv2D (NHWC) from forward ops that XNNPACK runs fast, replacing tfjs's
 * Conv2DBackpropInput / Conv2DBackpropFilter kernels: wasm has no Conv2DBackpropFilter at all and its
 * Conv2DBackpropInput is ~10x slower than a forward conv (PERF-NOTES "Gaps"). Also supports
 * dilation > 1, which tfjs's own Conv2D gradient rejects.
 *
 * Forward (padding top pt / left pl, stride s, dilation d, kernel k):
 *   y[n,i,j,o] = Σ_{a,b,c} xpad[n, i·sh + a·dh, j·sw + b·dw, c] · W[a,b,c,o]
 * dX: the transposed convolution = a stride-1 convolution, with dilation d, of dy zero-upsampled by s
 *     and padded by (k-1)·d - p, with the filter flipped in space and its in/out axes swapped.
 * dW: per filter tap (a,b): dW[a,b] = dyᵀ · xpad[:, a·dh :: sh, b·dw :: sw, :] as one 2-d matmul
 *     ([Cout, N·Ho·Wo] · [N·Ho·Wo, Cin]), dyᵀ made explicit once (no transpose flags, see ops/matmul).
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientOverride } from './gradient_override';

interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export type Conv2DInfo = tf.backend_util.Conv2DInfo;

export function conv2dInfo(xShape: number[], filterShape: number[], attrs: Conv2DAttrs): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** Zero-upsamples [N,H,W,C] by (sh, sw): -> [N, H·sh, W·sw, C] with t at rows/cols multiple of s. */
export function zeroUpsample(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  const [n, h, w, c] = t.shape;
  return tf.tidy(() => {
    const t6 = t.reshape([n, h, 1, w, 1, c]); // [N, H, 1, W, 1, C]
    const padded = tf.pad(t6, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]); // [N, H, sh, W, sw, C]
    return padded.reshape([n, h * sh, w * sw, c]);
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

/** dL/dx of a Conv2D from dy [N,Ho,Wo,Cout] and filter [kh,kw,Cin,Cout]. */
export function conv2dBackpropInputFast(xShape: number[], dy: tf.Tensor4D, filter: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { filterHeight: kh, filterWidth: kw, padInfo } = info;
  const [, h, w] = xShape;
  return tf.tidy(() => {
    const up = zeroUpsample(dy, sh, sw); // [N, Ho·sh, Wo·sw, Cout]
    const top = (kh - 1) * dh - padInfo.top;
    const left = (kw - 1) * dw - padInfo.left;
    // The stride-1 conv below needs an input of h + (kh-1)·dh rows to give h rows.
    const bottom = h + (kh - 1) * dh - top - up.shape[1];
    const right = w + (kw - 1) * dw - left - up.shape[2];
    const input = padOrCrop(up, top, bottom, left, right);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]); // [kh, kw, Cout, Cin]
    return tf.conv2d(input, flipped as tf.Tensor4D, 1, 'valid', 'NHWC', [dh, dw]);
  });
}

/** dL/dW of a Conv2D from x [N,H,W,Cin] and dy [N,Ho,Wo,Cout]; -> [kh,kw,Cin,Cout]. */
export function conv2dBackpropFilterFast(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { filterHeight: kh, filterWidth: kw, padInfo, outHeight: ho, outWidth: wo } = info;
  const [n, h, w, cin] = x.shape;
  const cout = dy.shape[3];
  return tf.tidy(() => {
    // Only rows/cols up to the last one a tap reads are needed; the rest (and extra padding) is cut.
    const needH = (ho - 1) * sh + (kh - 1) * dh + 1;
    const needW = (wo - 1) * sw + (kw - 1) * dw + 1;
    const xpad = padOrCrop(x, padInfo.top, needH - h - padInfo.top, padInfo.left, needW - w - padInfo.left);
    const rows = n * ho * wo;
    const dyT = tf.transpose(dy.reshape([rows, cout])); // [Cout, N·Ho·Wo]
    const taps: tf.Tensor2D[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const begin = [0, a * dh, b * dw, 0];
        const xs =
          sh === 1 && sw === 1
            ? tf.slice(xpad, begin, [n, ho, wo, cin])
            : tf.stridedSlice(xpad, begin, [n, a * dh + (ho - 1) * sh + 1, b * dw + (wo - 1) * sw + 1, cin], [1, sh, sw, 1]);
        taps.push(tf.matMul(dyT, xs.reshape([rows, cin]))); // [Cout, Cin]
      }
    }
    const stacked = taps.length === 1 ? taps[0].reshape([1, cout, cin]) : tf.stack(taps); // [kh·kw, Cout, Cin]
    return tf.transpose(stacked.reshape([kh, kw, cout, cin]), [0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, Cin, Cout]
  });
}

export const conv2dGradOverride: GradientOverride = {
  kernelName: 'Conv2D',
  backends: ['wasm', 'cpu'],
  inputsToSave: ['x', 'filter'],
  why:
    'wasm has no Conv2DBackpropFilter and a slow Conv2DBackpropInput; built from forward conv2d + per-tap 2-d matmuls ' +
    '(also ~10x faster than the cpu backprop kernels, and supports dilation > 1)',
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as Conv2DAttrs;
    if (a.dataFormat === 'NCHW') {
      throw new Error('Conv2D gradient override: only NHWC is supported (detr-ts convs are NHWC); got dataFormat NCHW');
    }
    const info = conv2dInfo(x.shape, filter.shape, a);
    const g = dy as tf.Tensor4D;
    return {
      x: () => conv2dBackpropInputFast(x.shape, g, filter, info),
      filter: () => conv2dBackpropFilterFast(x, g, info),
    };
  },
};

/**
 * Gradient of Conv2DBackpropInput (tf.conv2dTranspose's kernel): the same products as tfjs-core
 * gradients/Conv2DBackpropInput_grad.ts, with the filter part from conv2dBackpropFilterFast (wasm has no
 * Conv2DBackpropFilter kernel). ddx plays the forward conv's input x.
 */
export const conv2dBackpropInputGradOverride: GradientOverride = {
  kernelName: 'Conv2DBackpropInput',
  backends: ['wasm', 'cpu'],
  inputsToSave: ['dy', 'filter'],
  why: "conv2dTranspose's gradient needs Conv2DBackpropFilter, which wasm lacks; per-tap matmuls instead",
  gradFunc: (ddx, saved, attrs) => {
    const [dy, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const a = attrs as unknown as Conv2DAttrs;
    if (a.dataFormat === 'NCHW') {
      throw new Error('Conv2DBackpropInput gradient override: only NHWC is supported; got dataFormat NCHW');
    }
    const g = ddx as tf.Tensor4D;
    const info = conv2dInfo(g.shape, filter.shape, { ...a, dilations: 1 });
    return {
      dy: () => tf.conv2d(g, filter, a.strides, a.pad, 'NHWC', 1, a.dimRoundingMode),
      filter: () => conv2dBackpropFilterFast(g, dy, info),
    };
  },
};
