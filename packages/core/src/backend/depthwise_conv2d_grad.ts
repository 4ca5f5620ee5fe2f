/**
 * Gradient of DepthwiseConv2dNative for wasm, which has neither DepthwiseConv2dNativeBackpropInput nor
 * ...BackpropFilter. Same scheme as conv2d_grad.ts, per channel:
 *   y[n,i,j,c·m+q] = Σ_{a,b} xpad[n, i·sh + a·dh, j·sw + b·dw, c] · W[a,b,c,q]
 * dX = Σ_q depthwise conv (stride 1, dilation d) of the zero-upsampled, padded dy[..., c·m+q] with the
 *      spatially flipped W[:,:,:,q];
 * dW[a,b] = Σ_{n,i,j} xpad[n, i·sh + a·dh :: , ...] ⊙ dy  (one multiply + reduction per tap).
 */
import * as tf from '@tensorflow/tfjs';
import { zeroUpsample } from './conv2d_grad';
import { padOrCrop } from './im2col';
import type { GradientOverride } from './gradient_override';

interface DepthwiseAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function depthwiseInfo(xShape: number[], filterShape: number[], a: DepthwiseAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
}

export function depthwiseBackpropInputFast(xShape: number[], dy: tf.Tensor4D, filter: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: kh, filterWidth: kw, padInfo } = info;
  const [n, h, w, c] = xShape;
  const m = filter.shape[3];
  return tf.tidy(() => {
    const [, ho, wo] = dy.shape;
    const dy5 = dy.reshape([n, ho, wo, c, m]); // [N, Ho, Wo, C, m]
    const flipped = tf.reverse(filter, [0, 1]); // [kh, kw, C, m]
    const top = (kh - 1) * dh - padInfo.top;
    const left = (kw - 1) * dw - padInfo.left;
    let dx: tf.Tensor4D | null = null;
    for (let q = 0; q < m; q++) {
      const dyq = (m === 1 ? dy : dy5.slice([0, 0, 0, 0, q], [n, ho, wo, c, 1]).reshape([n, ho, wo, c])) as tf.Tensor4D;
      const up = zeroUpsample(dyq, sh, sw);
      const input = padOrCrop(up, top, h + (kh - 1) * dh - top - up.shape[1], left, w + (kw - 1) * dw - left - up.shape[2]);
      const fq = (m === 1 ? flipped : flipped.slice([0, 0, 0, q], [kh, kw, c, 1])) as tf.Tensor4D;
      const part = tf.depthwiseConv2d(input, fq, 1, 'valid', 'NHWC', [dh, dw]);
      dx = dx ? dx.add(part) : part;
    }
    return dx as tf.Tensor4D;
  });
}

export function depthwiseBackpropFilterFast(x: tf.Tensor4D, dy: tf.Tensor4D, m: number, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { filterHeight: kh, filterWidth: kw, padInfo, outHeight: ho, outWidth: wo } = info;
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => {
    const needH = (ho - 1) * sh + (kh - 1) * dh + 1;
    const needW = (wo - 1) * sw + (kw - 1) * dw + 1;
    const xpad = padOrCrop(x, padInfo.top, needH - h - padInfo.top, padInfo.left, needW - w - padInfo.left);
    const dy5 = dy.reshape([n, ho, wo, c, m]); // [N, Ho, Wo, C, m]
    const taps: tf.Tensor[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const begin = [0, a * dh, b * dw, 0];
        const xs =
          sh === 1 && sw === 1
            ? tf.slice(xpad, begin, [n, ho, wo, c])
            : tf.stridedSlice(xpad, begin, [n, a * dh + (ho - 1) * sh + 1, b * dw + (wo - 1) * sw + 1, c], [1, sh, sw, 1]);
        taps.push(tf.sum(tf.mul(xs.reshape([n, ho, wo, c, 1]), dy5), [0, 1, 2])); // [C, m]
      }
    }
    return tf.stack(taps).reshape([kh, kw, c, m]) as tf.Tensor4D;
  });
}

export const depthwiseConv2dGradOverride: GradientOverride = {
  kernelName: 'DepthwiseConv2dNative',
  backends: ['wasm'],
  inputsToSave: ['x', 'filter'],
  why: 'wasm has no DepthwiseConv2dNativeBackpropInput/Filter; built from forward depthwise convs and per-tap multiply-sums',
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    const info = depthwiseInfo(x.shape, filter.shape, attrs as unknown as DepthwiseAttrs);
    const g = dy as tf.Tensor4D;
    return {
      x: () => depthwiseBackpropInputFast(x.shape, g, filter, info),
      filter: () => depthwiseBackpropFilterFast(x, g, filter.shape[3], info),
    };
  },
};
