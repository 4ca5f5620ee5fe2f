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
 * dW: im2col then one product: the taps xpad[:, a·dh :: sh, b·dw :: sw, :] side by side form
 *     cols [N·Ho·Wo, kh·kw·Cin], and dW = colsᵀ · dy ([kh·kw·Cin, Cout], already in HWIO order); one
 *     large product where kh·kw small ones (K = Cin, 3 for the stem) kept the GEMM idle. On wasm
 *     conv2d_wasm.ts's Conv2DBackpropFilter kernel computes that product without writing cols; elsewhere
 *     cols comes from tfjs ops (im2col.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientOverride } from './gradient_override';
import { matMul } from '../ops/matmul';
import { im2col, padOrCrop } from './im2col';
import { ownConvEnabled } from './conv2d_wasm';

/** Attrs of tfjs's Conv2D kernel (Conv2DBackpropFilter's have no dilations: 1). */
export interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
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
    const flipped = tf.transpose(flipSpatial(filter), [0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, Cout, Cin]
    if (Math.min(top, bottom, left, right) >= 0) {
      // Padding only: the conv kernel pads (no padded copy through Pad).
      return tf.conv2d(up, flipped, 1, [[0, 0], [top, bottom], [left, right], [0, 0]], 'NHWC', [dh, dw]);
    }
    return tf.conv2d(padOrCrop(up, top, bottom, left, right), flipped, 1, 'valid', 'NHWC', [dh, dw]);
  });
}

/**
 * The filter rotated 180 degrees in space (`reverse(filter, [0, 1])`), as slices of its taps in reverse
 * order: tfjs-wasm's Reverse kernel took ~18 ms on a 3x3x256x256 filter, the slices and concat ~1 ms.
 */
export function flipSpatial(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  if (kh * kw === 1) return filter;
  return tf.tidy(() => {
    const taps = filter.reshape([kh * kw, cin * cout]); // tap t = a·kw + b; the flip maps t to kh·kw-1-t
    const parts: tf.Tensor[] = [];
    for (let t = kh * kw - 1; t >= 0; t--) parts.push(tf.slice(taps, [t, 0], [1, cin * cout]));
    return tf.concat(parts, 0).reshape([kh, kw, cin, cout]) as tf.Tensor4D;
  });
}

/** Whether conv2d_wasm's Conv2DBackpropFilter takes dW: wasm, float32, the own conv enabled. */
function ownConvFilterGradApplies(x: tf.Tensor, dy: tf.Tensor): boolean {
  return (
    tf.getBackend() === 'wasm' && x.dtype === 'float32' && dy.dtype === 'float32' && ownConvEnabled() && tf.getKernel('Conv2DBackpropFilter', 'wasm') != null
  );
}

/** dL/dW of a Conv2D from x [N,H,W,Cin] and dy [N,Ho,Wo,Cout]; -> [kh,kw,Cin,Cout]. */
export function conv2dBackpropFilterFast(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const { filterHeight: kh, filterWidth: kw } = info;
  const [n, , , cin] = x.shape;
  const [, ho, wo, cout] = dy.shape;
  if (ownConvFilterGradApplies(x, dy)) {
    const pad: tf.backend_util.ExplicitPadding = [[0, 0], [info.padInfo.top, info.padInfo.bottom], [info.padInfo.left, info.padInfo.right], [0, 0]];
    const attrs = { strides: [info.strideHeight, info.strideWidth], pad, dataFormat: 'NHWC', dilations: [info.dilationHeight, info.dilationWidth], filterShape: [kh, kw, cin, cout] };
    return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const dy2 = dy.reshape([n * ho * wo, cout]);
    const dW = matMul(im2col(x, info), dy2, { transposeA: true }); // [kh·kw·Cin, Cout], row (a·kw + b)·Cin + c
    return dW.reshape([kh, kw, cin, cout]) as tf.Tensor4D;
  });
}

export const conv2dGradOverride: GradientOverride = {
  kernelName: 'Conv2D',
  backends: ['wasm', 'cpu'],
  inputsToSave: ['x', 'filter'],
  why:
    'wasm has no Conv2DBackpropFilter and a slow Conv2DBackpropInput; built from a forward conv2d and an im2col matmul ' +
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
  why: "conv2dTranspose's gradient needs Conv2DBackpropFilter, which wasm lacks; im2col + one matmul instead",
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
