/**
 * detectron2's `BasicStem` (`detectron2/modeling/backbone/resnet.py`): conv 7x7 stride 2 padding 3
 * (no bias) + norm -> ReLU -> max-pool 3x3 stride 2 padding 1. Total stride 4.
 * Every conv starts c2_msra_fill'ed (ConvWithNorm.resetParameters), as detectron2 initialises them.
 */
import * as tf from '@tensorflow/tfjs';
import { CNNBlockBase } from './cnn_block_base';
import { ConvWithNorm } from './conv_norm';
import type { NormName } from './norm';

export class BasicStem extends CNNBlockBase {
  readonly conv1: ConvWithNorm;

  constructor(opts: { in_channels?: number; out_channels?: number; norm?: NormName } = {}) {
    super(opts.in_channels ?? 3, opts.out_channels ?? 64, 4);
    this.conv1 = this.registerModule(
      'conv1',
      new ConvWithNorm(this.inChannels, this.outChannels, 7, { stride: 2, padding: 3, bias: false, norm: opts.norm ?? 'FrozenBN' }),
    );
  }

  /** x [N,H,W,Cin] -> [N,~H/4,~W/4,64]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = tf.relu(this.conv1.forward(x));
      // F.max_pool2d(kernel 3, stride 2, padding 1): explicit symmetric padding (padded cells never win,
      // as PyTorch's -inf padding), output floor((H + 2 - 3) / 2) + 1.
      return tf.maxPool(y, 3, 2, 1);
    });
  }
}
