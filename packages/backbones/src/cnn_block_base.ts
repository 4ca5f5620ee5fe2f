/**
 * detectron2's `CNNBlockBase` (`detectron2/layers/blocks.py`): a block with known input / output
 * channels and stride, which `freeze()` makes untrainable (Module.freeze sets requiresGrad=false on
 * every parameter; FrozenBN's tensors are buffers and never train anyway).
 */
import type * as tf from '@tensorflow/tfjs';
import { Module } from '@detr/core';

export abstract class CNNBlockBase extends Module {
  constructor(readonly inChannels: number, readonly outChannels: number, readonly stride: number) {
    super();
  }

  /** x [N,H,W,inChannels] -> [N,H/stride,W/stride,outChannels]. */
  abstract forward(x: tf.Tensor4D): tf.Tensor4D;
}

/** Throws a clear error unless x is an NHWC tensor with `channels` channels. */
export function checkNHWC(x: tf.Tensor, channels: number, where: string): asserts x is tf.Tensor4D {
  if (x.rank !== 4 || x.shape[3] !== channels) {
    throw new Error(`${where}: expected an NHWC tensor [B, H, W, ${channels}], got [${x.shape.join(', ')}]`);
  }
}
