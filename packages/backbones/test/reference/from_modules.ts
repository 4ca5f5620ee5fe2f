/** Reads tfjs module weights into the float64 reference structures (test helper). */
import type * as tf from '@tensorflow/tfjs';
import type { FrozenBatchNorm2d } from '@detr/core';
import type { BottleneckBlock, ConvWithNorm } from '../../src/index';
import type { Array4, BottleneckRef, ConvBNRef, FrozenBNRef } from './resnet_reference';

export function toArray4(t: tf.Tensor): Array4 {
  if (t.rank !== 4) throw new Error(`toArray4: rank ${t.rank}`);
  return { data: Float64Array.from(t.dataSync()), shape: t.shape as [number, number, number, number] };
}

function frozenBN(bn: FrozenBatchNorm2d): FrozenBNRef {
  return {
    weight: Float64Array.from(bn.weight.dataSync()),
    bias: Float64Array.from(bn.bias.dataSync()),
    mean: Float64Array.from(bn.runningMean.dataSync()),
    variance: Float64Array.from(bn.runningVar.dataSync()),
    eps: bn.eps,
  };
}

export function convBNParams(conv: ConvWithNorm): ConvBNRef {
  const [sh, sw] = conv.stride;
  const [ph, pw] = conv.padding;
  const [dh, dw] = conv.dilation;
  if (sh !== sw || ph !== pw || dh !== dw) throw new Error('convBNParams: only square settings are used here');
  return {
    weight: toArray4(conv.weight),
    bn: frozenBN(conv.norm as unknown as FrozenBatchNorm2d),
    stride: sh,
    pad: ph,
    dilation: dh,
  };
}

export function bottleneckParams(block: BottleneckBlock): BottleneckRef {
  return {
    shortcut: block.shortcut ? convBNParams(block.shortcut) : null,
    conv1: convBNParams(block.conv1),
    conv2: convBNParams(block.conv2),
    conv3: convBNParams(block.conv3),
  };
}
