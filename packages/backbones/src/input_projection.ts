/**
 * DAB-DETR's single-level input projection (`projects/dab_detr/modeling/dab_detr.py`:
 * `self.input_proj = nn.Conv2d(in_channels, embed_dim, kernel_size=1)`): a 1x1 conv with bias and
 * PyTorch's default init, applied to the backbone's res5 (2048 -> 256). As a Conv2d subclass its keys
 * are `weight` and `bias`, i.e. `input_proj.weight` under the detector.
 */
import type * as tf from '@tensorflow/tfjs';
import { Conv2d } from '@detr/core';
import { register } from '@detr/registry';
import { checkNHWC } from './cnn_block_base';
import { checkKnownOptions, checkPositiveInt } from './options';

export interface InputProjectionOptions {
  in_channels?: number;
  embed_dim?: number;
}

@register('neck', 'input_proj')
export class InputProjection extends Conv2d {
  constructor(opts: InputProjectionOptions = {}) {
    checkKnownOptions(opts, ['in_channels', 'embed_dim'], 'InputProjection');
    super(
      checkPositiveInt(opts.in_channels ?? 2048, 'in_channels', 'InputProjection'),
      checkPositiveInt(opts.embed_dim ?? 256, 'embed_dim', 'InputProjection'),
      1,
      { bias: true },
    );
  }

  /** x [B,H,W,in_channels] -> [B,H,W,embed_dim]. */
  override forward(x: tf.Tensor4D): tf.Tensor4D {
    checkNHWC(x, this.inChannels, 'InputProjection.forward');
    return super.forward(x);
  }
}
