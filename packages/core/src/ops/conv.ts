/**
 * 2-d convolution on NHWC tensors with HWIO filters, PyTorch-style explicit symmetric padding,
 * stride, dilation and groups (torch.nn.functional.conv2d semantics), differentiable on every backend.
 *
 * - dilation > 1: tfjs's Conv2D gradient rejects dilation, so the conv is built as TensorFlow builds
 *   it (`with_space_to_batch`, tensorflow/python/ops/nn_ops.py): spaceToBatchND with block = dilation,
 *   a dilation-1 conv, batchToSpaceND; all three have gradients everywhere. Where detr-ts's own Conv2D
 *   gradient is active (backend/conv2d_grad.ts: wasm, cpu), which handles dilation directly, the
 *   native dilated conv is used instead (`dilatedMethod: 'auto'`), measured faster in bench/ops.ts.
 *   Stride and dilation both > 1 (allowed by PyTorch, not by tf.conv2d): the stride-1 result is
 *   subsampled.
 * - groups: groups == Cin runs one depthwise conv; otherwise split + conv per group + concat.
 */
import * as tf from '@tensorflow/tfjs';
import { overrideActive } from '../backend/gradient_override';

export type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  /** Symmetric zero padding per side, as PyTorch's `padding=` (number or [padH, padW]). */
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** How dilation > 1 is computed (default 'auto'; see the file comment). */
  dilatedMethod?: 'auto' | 'space-to-batch' | 'native';
}

export function pair(v: Pair | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : v;
}

function checkPositiveInts(name: string, v: [number, number], min: number): void {
  if (!v.every((e) => Number.isInteger(e) && e >= min)) throw new Error(`conv2d: ${name} must be integers >= ${min}, got [${v}]`);
}

/** Stride-1 valid conv with dilation (dh, dw) through spaceToBatchND (TF's with_space_to_batch). */
export function dilatedConvSpaceToBatch(xp: tf.Tensor4D, filter: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, hp, wp] = xp.shape;
    const padH = (dh - (hp % dh)) % dh;
    const padW = (dw - (wp % dw)) % dw;
    // [N, Hp, Wp, C] -> [dh·dw·N, (Hp+padH)/dh, (Wp+padW)/dw, C]: batch entry (r, s, n) holds phase (r, s).
    const phases = tf.spaceToBatchND(xp, [dh, dw], [[0, padH], [0, padW]]) as tf.Tensor4D;
    const y = tf.conv2d(phases, filter, 1, 'valid'); // per phase: an ordinary dilation-1 conv
    // Interleave the phases back; the padded rows/cols at the end give outputs that are cut.
    return tf.batchToSpaceND(y, [dh, dw], [[0, padH], [0, padW]]) as tf.Tensor4D;
  });
}

function convOneGroup(xp: tf.Tensor4D, filter: tf.Tensor4D, s: [number, number], d: [number, number], method: Conv2dOptions['dilatedMethod']): tf.Tensor4D {
  const [sh, sw] = s;
  const [dh, dw] = d;
  if (dh === 1 && dw === 1) return tf.conv2d(xp, filter, [sh, sw], 'valid');
  const native = method === 'native' || (method !== 'space-to-batch' && overrideActive('Conv2D'));
  if (native && sh === 1 && sw === 1) return tf.conv2d(xp, filter, 1, 'valid', 'NHWC', [dh, dw]);
  const y = native ? tf.conv2d(xp, filter, 1, 'valid', 'NHWC', [dh, dw]) : dilatedConvSpaceToBatch(xp, filter, dh, dw);
  return sh === 1 && sw === 1 ? y : subsample2d(y, sh, sw);
}

/**
 * y[:, ::sh, ::sw, :] from pad, reshape and slice, which have gradients on every backend (tfjs has no
 * StridedSlice gradient unless backend/indexing_grads.ts is installed).
 */
export function subsample2d(y: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = y.shape;
    const ho = Math.ceil(h / sh);
    const wo = Math.ceil(w / sw);
    const padded = tf.pad(y, [[0, 0], [0, ho * sh - h], [0, wo * sw - w], [0, 0]]);
    const grid = padded.reshape([n, ho, sh, wo, sw, c]); // row i·sh + r -> (i, r)
    return tf.slice(grid, [0, 0, 0, 0, 0, 0], [n, ho, 1, wo, 1, c]).reshape([n, ho, wo, c]) as tf.Tensor4D;
  });
}

/**
 * x [N,H,W,Cin] (NHWC), filter [kh,kw,Cin/groups,Cout] (HWIO) -> [N,Ho,Wo,Cout] with
 * Ho = floor((H + 2·padH - dilH·(kh-1) - 1) / strideH) + 1 (PyTorch's formula).
 */
export function conv2d(x: tf.Tensor4D, filter: tf.Tensor4D, opts: Conv2dOptions = {}): tf.Tensor4D {
  const s = pair(opts.stride, 1);
  const [ph, pw] = pair(opts.padding, 0);
  const d = pair(opts.dilation, 1);
  const groups = opts.groups ?? 1;
  checkPositiveInts('stride', s, 1);
  checkPositiveInts('dilation', d, 1);
  checkPositiveInts('padding', [ph, pw], 0);
  if (x.rank !== 4) throw new Error(`conv2d: input must be NHWC rank 4, got shape [${x.shape}]`);
  if (filter.rank !== 4) throw new Error(`conv2d: filter must be HWIO rank 4, got shape [${filter.shape}]`);
  const [kh, kw, cinPerGroup, cout] = filter.shape;
  const cin = x.shape[3];
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
    throw new Error(`conv2d: groups=${groups} must divide the input channels (${cin}) and output channels (${cout})`);
  }
  if (cinPerGroup * groups !== cin) {
    throw new Error(`conv2d: filter [${filter.shape}] expects ${cinPerGroup * groups} input channels with groups=${groups}, input [${x.shape}] has ${cin}`);
  }
  const effH = d[0] * (kh - 1) + 1;
  const effW = d[1] * (kw - 1) + 1;
  if (x.shape[1] + 2 * ph < effH || x.shape[2] + 2 * pw < effW) {
    throw new Error(`conv2d: padded input ${x.shape[1] + 2 * ph}x${x.shape[2] + 2 * pw} is smaller than the dilated kernel ${effH}x${effW}`);
  }
  return tf.tidy(() => {
    if (groups === 1 && d[0] === 1 && d[1] === 1) {
      // The padding goes to the kernel (explicit padding): no padded copy to keep for backward, and on
      // wasm the own Conv2D pads while it copies (backend/conv2d_wasm.ts).
      return tf.conv2d(x, filter, s, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
    }
    const xp: tf.Tensor4D = ph > 0 || pw > 0 ? tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]) : x;
    if (groups === 1) return convOneGroup(xp, filter, s, d, opts.dilatedMethod);
    const unitStride = s[0] === 1 && s[1] === 1;
    const unitDilation = d[0] === 1 && d[1] === 1;
    // tfjs's depthwise gradient rejects dilation; detr-ts's (wasm) handles it.
    const depthwiseOk = unitDilation || (unitStride && overrideActive('DepthwiseConv2dNative'));
    if (groups === cin && depthwiseOk) {
      // Depthwise: HWIO [kh, kw, 1, Cin·m] is [kh, kw, Cin, m] in depthwise layout (out channel c·m + q).
      const f = filter.reshape([kh, kw, cin, cout / cin]) as tf.Tensor4D;
      return tf.depthwiseConv2d(xp, f, s, 'valid', 'NHWC', d);
    }
    const xs = tf.split(xp, groups, 3) as tf.Tensor4D[];
    const fs = tf.split(filter, groups, 3) as tf.Tensor4D[];
    return tf.concat(
      xs.map((xg, g) => convOneGroup(xg, fs[g], s, d, opts.dilatedMethod)),
      3,
    ) as tf.Tensor4D;
  });
}
