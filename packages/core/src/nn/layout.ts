/**
 * Weight layouts. PyTorch stores Linear weights [out, in] and conv filters OIHW; detr-ts stores them
 * [in, out] and HWIO (tfjs's native conv layout, and the layout XNNPACK's fast matmul takes without
 * transpose flags). State-dict names stay PyTorch's; only the layout is converted on import/export.
 */
import * as tf from '@tensorflow/tfjs';

export type ParamLayout = 'plain' | 'linear' | 'conv2d';

/** Shape in PyTorch's layout for a tensor stored in ours. */
export function torchShape(layout: ParamLayout, shape: readonly number[]): number[] {
  switch (layout) {
    case 'plain':
      return [...shape];
    case 'linear': // ours [in, out] -> torch [out, in]
      return [shape[1], shape[0]];
    case 'conv2d': // ours HWIO [kh, kw, in, out] -> torch OIHW [out, in, kh, kw]
      return [shape[3], shape[2], shape[0], shape[1]];
  }
}

/** Convert a tensor from PyTorch's layout to ours. */
export function fromTorchLayout(layout: ParamLayout, t: tf.Tensor): tf.Tensor {
  switch (layout) {
    case 'plain':
      return t.clone();
    case 'linear':
      return tf.transpose(t, [1, 0]);
    case 'conv2d': // OIHW -> HWIO
      return tf.transpose(t, [2, 3, 1, 0]);
  }
}

/** Convert a tensor from our layout to PyTorch's. */
export function toTorchLayout(layout: ParamLayout, t: tf.Tensor): tf.Tensor {
  switch (layout) {
    case 'plain':
      return t.clone();
    case 'linear':
      return tf.transpose(t, [1, 0]);
    case 'conv2d': // HWIO -> OIHW
      return tf.transpose(t, [3, 2, 0, 1]);
  }
}

/** Fan-in and fan-out as PyTorch's `_calculate_fan_in_and_fan_out` computes them on the torch layout. */
export function fans(layout: ParamLayout, shape: readonly number[]): { fanIn: number; fanOut: number } {
  const ts = torchShape(layout, shape);
  if (ts.length < 2) throw new Error(`fans: need at least 2 dimensions, got shape [${shape}]`);
  const receptive = ts.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: ts[1] * receptive, fanOut: ts[0] * receptive };
}
