/**
 * detectron2's `layers.Conv2d` wrapper (`detectron2/layers/wrappers.py`) as the ResNet uses it: a
 * convolution whose norm is a child module named `norm`, so the state-dict keys read
 * `conv1.weight`, `conv1.norm.weight`, `conv1.norm.running_mean`, ... Activations are applied by the
 * blocks, as in detectron2's ResNet.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, kaimingNormalFanOut_, zeros_, type Conv2dModuleOptions, type Rng, getGlobalRng } from '@detr/core';
import { getNorm, type NormLayer, type NormName } from './norm';

export class ConvWithNorm extends Conv2d {
  readonly norm: NormLayer | null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv2dModuleOptions & { norm?: NormName } = {}) {
    super(inChannels, outChannels, kernelSize, opts);
    this.norm = this.registerModule('norm', getNorm(opts.norm ?? '', outChannels));
  }

  /** x [N,H,W,Cin] -> norm(conv(x)) [N,Ho,Wo,Cout]. */
  override forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = super.forward(x);
      return this.norm ? (this.norm.forward(y) as tf.Tensor4D) : y;
    });
  }

  /**
   * fvcore's `c2_msra_fill` (`fvcore/nn/weight_init.py`), which detectron2's ResNet applies to every
   * conv: kaiming_normal_(mode='fan_out', nonlinearity='relu') on the weight, zeros on the bias.
   */
  c2MsraFill(rng: Rng = getGlobalRng()): void {
    kaimingNormalFanOut_(this.getParameter('weight'), rng);
    if (this.bias) zeros_(this.getParameter('bias'));
  }

  /**
   * Every ResNet conv is c2_msra_fill'ed right after construction, so the constructor's reset draws
   * that directly (PyTorch draws torch's default init first and overwrites it; the result has the
   * same distribution and building a ResNet-101 takes half the time).
   */
  override resetParameters(rng: Rng = getGlobalRng()): void {
    this.c2MsraFill(rng);
  }
}
