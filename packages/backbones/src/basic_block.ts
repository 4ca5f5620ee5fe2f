/**
 * detectron2's `BasicBlock` (`detectron2/modeling/backbone/resnet.py`), the block of ResNet-18/34:
 * conv3x3(stride) + norm -> ReLU -> conv3x3 + norm, plus the identity or a projection shortcut
 * (conv1x1(stride) + norm) when the channel count changes, then ReLU after the add.
 * Every conv starts c2_msra_fill'ed (ConvWithNorm.resetParameters), as detectron2 initialises them.
 */
import * as tf from '@tensorflow/tfjs';
import { CNNBlockBase } from './cnn_block_base';
import { ConvWithNorm } from './conv_norm';
import type { NormName } from './norm';

export interface BasicBlockOptions {
  in_channels: number;
  out_channels: number;
  stride?: number;
  norm?: NormName;
}

export class BasicBlock extends CNNBlockBase {
  readonly shortcut: ConvWithNorm | null;
  readonly conv1: ConvWithNorm;
  readonly conv2: ConvWithNorm;

  constructor(opts: BasicBlockOptions) {
    super(opts.in_channels, opts.out_channels, opts.stride ?? 1);
    const norm = opts.norm ?? 'FrozenBN';
    const { inChannels: cin, outChannels: cout, stride } = this;
    // Registration order = detectron2's attribute order = state-dict order: shortcut, conv1, conv2.
    this.shortcut = this.registerModule('shortcut', cin !== cout ? new ConvWithNorm(cin, cout, 1, { stride, bias: false, norm }) : null);
    this.conv1 = this.registerModule('conv1', new ConvWithNorm(cin, cout, 3, { stride, padding: 1, bias: false, norm }));
    this.conv2 = this.registerModule('conv2', new ConvWithNorm(cout, cout, 3, { stride: 1, padding: 1, bias: false, norm }));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const out = this.conv2.forward(tf.relu(this.conv1.forward(x)));
      const shortcut = this.shortcut ? this.shortcut.forward(x) : x;
      return tf.relu(out.add(shortcut));
    });
  }
}
