/**
 * y = x * scale + shift per channel (last axis) with constant scale and shift: FrozenBatchNorm2d's map
 * (detectron2 `layers/batch_norm.py::FrozenBatchNorm2d`), as one op whose backward keeps nothing but
 * `scale` (dx = dy * scale; frozen statistics get no gradient, as upstream where they are buffers).
 * Written as x.mul(scale).add(shift), the tape kept the conv output (Mul saves both inputs) and the
 * scaled map (Add saves its inputs for their shapes): two extra copies of every ResNet feature map in a
 * training step, which pushed an R50 step at batch 2 past the wasm heap. The forward ops are the same.
 */
import * as tf from '@tensorflow/tfjs';

/** x [..., C], scale [C], shift [C] (constants: no gradient) -> [..., C]. */
export function frozenAffine(x: tf.Tensor, scale: tf.Tensor1D, shift: tf.Tensor1D): tf.Tensor {
  const c = x.shape[x.shape.length - 1];
  if (scale.rank !== 1 || shift.rank !== 1 || scale.shape[0] !== c || shift.shape[0] !== c) {
    throw new Error(`frozenAffine: scale and shift must be [${c}] (the last axis of x [${x.shape}]), got [${scale.shape}] and [${shift.shape}]`);
  }
  const forward = (xs: tf.Tensor, save: tf.GradSaveFunc) => {
    save([scale]);
    return {
      value: xs.mul(scale).add(shift),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => dy.mul(saved[0]),
    };
  };
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0])(x);
}
