/**
 * detectron2's `BottleneckBlock` (`detectron2/modeling/backbone/resnet.py`), the block of
 * ResNet-50/101/152: conv1x1 + norm -> ReLU -> conv3x3(dilation) + norm -> ReLU -> conv1x1 + norm,
 * plus the identity or a projection shortcut (conv1x1(stride) + norm), then ReLU after the add.
 * With `stride_in_1x1=false` (torchvision / detrex) the stride sits in the 3x3 conv.
 * Every conv starts c2_msra_fill'ed (ConvWithNorm.resetParameters), as detectron2 initialises them.
 */
import * as tf from '@tensorflow/tfjs';
import { CNNBlockBase } from './cnn_block_base';
import { ConvWithNorm } from './conv_norm';
import type { NormName } from './norm';

export interface BottleneckBlockOptions {
  in_channels: number;
  out_channels: number;
  bottleneck_channels: number;
  stride?: number;
  norm?: NormName;
  stride_in_1x1?: boolean;
  /** Dilation of the 3x3 conv (its padding is `dilation`, so the map size is kept). 2 in a DC5 res5. */
  dilation?: number;
}

export class BottleneckBlock extends CNNBlockBase {
  readonly shortcut: ConvWithNorm | null;
  readonly conv1: ConvWithNorm;
  readonly conv2: ConvWithNorm;
  readonly conv3: ConvWithNorm;

  constructor(opts: BottleneckBlockOptions) {
    super(opts.in_channels, opts.out_channels, opts.stride ?? 1);
    const norm = opts.norm ?? 'FrozenBN';
    const dilation = opts.dilation ?? 1;
    const { inChannels: cin, outChannels: cout, stride } = this;
    const mid = opts.bottleneck_channels;
    const [stride1x1, stride3x3] = opts.stride_in_1x1 ? [stride, 1] : [1, stride];
    // Registration order = detectron2's attribute order = state-dict order: shortcut, conv1..conv3.
    this.shortcut = this.registerModule('shortcut', cin !== cout ? new ConvWithNorm(cin, cout, 1, { stride, bias: false, norm }) : null);
    this.conv1 = this.registerModule('conv1', new ConvWithNorm(cin, mid, 1, { stride: stride1x1, bias: false, norm }));
    this.conv2 = this.registerModule(
      'conv2',
      new ConvWithNorm(mid, mid, 3, { stride: stride3x3, padding: dilation, dilation, bias: false, norm }),
    );
    this.conv3 = this.registerModule('conv3', new ConvWithNorm(mid, cout, 1, { bias: false, norm }));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let out = tf.relu(this.conv1.forward(x));
      out = tf.relu(this.conv2.forward(out));
      out = this.conv3.forward(out);
      const shortcut = this.shortcut ? this.shortcut.forward(x) : x;
      return tf.relu(out.add(shortcut));
    });
  }
}
