/**
 * 2-d convolution on NHWC tensors with HWIO filters, PyTorch-style explicit symmetric padding,
 * stride, dilation and groups. (First version: plain tf.conv2d; see backend/ for gradient overrides.)
 */
import * as tf from '@tensorflow/tfjs';

export type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  /** Symmetric zero padding per side, as PyTorch's `padding=` (number or [padH, padW]). */
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export function pair(v: Pair | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : v;
}

/**
 * x [N,H,W,Cin] (NHWC), filter [kh,kw,Cin/groups,Cout] (HWIO) -> [N,Ho,Wo,Cout].
 */
export function conv2d(x: tf.Tensor4D, filter: tf.Tensor4D, opts: Conv2dOptions = {}): tf.Tensor4D {
  const [sh, sw] = pair(opts.stride, 1);
  const [ph, pw] = pair(opts.padding, 0);
  const [dh, dw] = pair(opts.dilation, 1);
  const groups = opts.groups ?? 1;
  return tf.tidy(() => {
    const padded: tf.Tensor4D = ph > 0 || pw > 0 ? tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]) : x;
    if (groups === 1) return tf.conv2d(padded, filter, [sh, sw], 'valid', 'NHWC', [dh, dw]);
    const xs = tf.split(padded, groups, 3) as tf.Tensor4D[];
    const fs = tf.split(filter, groups, 3) as tf.Tensor4D[];
    return tf.concat(
      xs.map((xg, g) => tf.conv2d(xg, fs[g], [sh, sw], 'valid', 'NHWC', [dh, dw])),
      3,
    ) as tf.Tensor4D;
  });
}
