/**
 * detrex's `ConvNormAct` (`detrex/layers/conv.py`): torch.nn.Conv2d (child `conv`), an optional norm
 * (child `norm`) and an optional activation, so the keys read `conv.weight`, `conv.bias`,
 * `norm.weight`, `norm.bias`. NHWC input.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, GroupNorm, Module } from '@detr/core';
import type { NormLayer } from './norm';

/**
 * A norm layer description: a plain object (config-friendly; detrex's `L(nn.GroupNorm)(num_groups=32,
 * num_channels=256)`), or a factory giving a fresh layer for a channel count. A fresh layer is made per
 * conv, as detrex's ChannelMapper deep-copies its `norm_layer` per level.
 */
export type NormLayerSpec = { type: 'GroupNorm'; num_groups: number; num_channels?: number; eps?: number } | ((channels: number) => NormLayer);

export type ActivationName = 'relu';

export function makeNormLayer(spec: NormLayerSpec, channels: number, where: string): NormLayer {
  if (typeof spec === 'function') return spec(channels);
  if (spec === null || typeof spec !== 'object' || spec.type !== 'GroupNorm') {
    throw new Error(`${where}: norm_layer must be {type: 'GroupNorm', num_groups, num_channels?, eps?} or a factory, got ${JSON.stringify(spec)}`);
  }
  if (spec.num_channels !== undefined && spec.num_channels !== channels) {
    throw new Error(`${where}: norm_layer.num_channels is ${spec.num_channels} but the conv has ${channels} output channels`);
  }
  if (!Number.isInteger(spec.num_groups) || spec.num_groups <= 0 || channels % spec.num_groups !== 0) {
    throw new Error(`${where}: norm_layer.num_groups must be a positive divisor of ${channels}, got ${JSON.stringify(spec.num_groups)}`);
  }
  return new GroupNorm(spec.num_groups, channels, spec.eps ?? 1e-5);
}

export interface ConvNormActOptions {
  in_channels: number;
  out_channels: number;
  kernel_size?: number;
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  norm_layer?: NormLayerSpec | null;
  activation?: ActivationName | null;
}

export class ConvNormAct extends Module {
  readonly conv: Conv2d;
  readonly norm: NormLayer | null;
  readonly activation: ActivationName | null;

  constructor(opts: ConvNormActOptions) {
    super();
    this.conv = this.registerModule(
      'conv',
      new Conv2d(opts.in_channels, opts.out_channels, opts.kernel_size ?? 1, {
        stride: opts.stride ?? 1,
        padding: opts.padding ?? 0,
        dilation: opts.dilation ?? 1,
        groups: opts.groups ?? 1,
        bias: opts.bias ?? true,
      }),
    );
    this.norm = this.registerModule('norm', opts.norm_layer ? makeNormLayer(opts.norm_layer, opts.out_channels, 'ConvNormAct') : null);
    if (opts.activation != null && opts.activation !== 'relu') {
      throw new Error(`ConvNormAct: activation must be 'relu' or null, got ${JSON.stringify(opts.activation)}`);
    }
    this.activation = opts.activation ?? null;
  }

  /** x [N,H,W,Cin] -> [N,Ho,Wo,Cout]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let y: tf.Tensor4D = this.conv.forward(x);
      if (this.norm) y = this.norm.forward(y) as tf.Tensor4D;
      if (this.activation === 'relu') y = tf.relu(y);
      return y;
    });
  }
}
