/**
 * nn primitives with PyTorch's parameter names and default initialisation. Images and feature maps are
 * NHWC; Linear weights are stored [in, out] and conv filters HWIO (see layout.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, pair, type Pair } from '../ops/conv';
import { frozenAffine } from '../ops/frozen_affine';
import { linear } from '../ops/linear';
import { getGlobalRng, type Rng } from '../rng';
import { defaultBias_, kaimingUniform_, normal_ } from './init';
import { groupNorm, layerNorm } from './norm_ops';
import { Module, ModuleList } from './module';

/** y = x W + b (torch.nn.Linear; weight [in, out] here, [out, in] in the state dict). */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.registerParameter('weight', tf.zeros([inFeatures, outFeatures]), 'linear');
    this.bias = opts.bias === false ? null : this.registerParameter('bias', tf.zeros([outFeatures]));
    this.resetParameters();
  }

  /** torch.nn.Linear.reset_parameters: kaiming_uniform(a=sqrt(5)) weight, U(+-1/sqrt(in)) bias. */
  resetParameters(rng: Rng = getGlobalRng()): void {
    kaimingUniform_(this.getParameter('weight'), Math.sqrt(5), rng);
    if (this.bias) defaultBias_(this.getParameter('bias'), this.inFeatures, rng);
  }

  /** x [..., in] -> [..., out]. */
  forward(x: tf.Tensor): tf.Tensor {
    return linear(x, this.weight as tf.Tensor2D, (this.bias ?? undefined) as tf.Tensor1D | undefined);
  }
}

export interface Conv2dModuleOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/** torch.nn.Conv2d on NHWC input; weight HWIO here, OIHW in the state dict. */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, opts: Conv2dModuleOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize, 1);
    this.stride = pair(opts.stride, 1);
    this.padding = pair(opts.padding, 0);
    this.dilation = pair(opts.dilation, 1);
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(`Conv2d: channels ${inChannels}->${outChannels} not divisible by groups ${this.groups}`);
    }
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter('weight', tf.zeros([kh, kw, inChannels / this.groups, outChannels]), 'conv2d');
    this.bias = opts.bias === false ? null : this.registerParameter('bias', tf.zeros([outChannels]));
    this.resetParameters();
  }

  /** torch.nn.Conv2d.reset_parameters: kaiming_uniform(a=sqrt(5)), bias U(+-1/sqrt(fan_in)). */
  resetParameters(rng: Rng = getGlobalRng()): void {
    kaimingUniform_(this.getParameter('weight'), Math.sqrt(5), rng);
    if (this.bias) {
      const fanIn = (this.inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1];
      defaultBias_(this.getParameter('bias'), fanIn, rng);
    }
  }

  /** x [N,H,W,Cin] -> [N,Ho,Wo,Cout]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = conv2d(x, this.weight as tf.Tensor4D, {
        stride: this.stride,
        padding: this.padding,
        dilation: this.dilation,
        groups: this.groups,
      });
      return this.bias ? (y.add(this.bias) as tf.Tensor4D) : y;
    });
  }
}

/** torch.nn.LayerNorm over the last dimension (weight 1, bias 0, eps 1e-5); hand-written gradient (norm_ops.ts). */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly normalizedShape: number, readonly eps = 1e-5) {
    super();
    this.weight = this.registerParameter('weight', tf.ones([normalizedShape]));
    this.bias = this.registerParameter('bias', tf.zeros([normalizedShape]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** torch.nn.GroupNorm on NHWC input (weight 1, bias 0, eps 1e-5); hand-written gradient (norm_ops.ts). */
export class GroupNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5) {
    super();
    if (numChannels % numGroups !== 0) throw new Error(`GroupNorm: ${numChannels} channels not divisible by ${numGroups} groups`);
    this.weight = this.registerParameter('weight', tf.ones([numChannels]));
    this.bias = this.registerParameter('bias', tf.zeros([numChannels]));
  }

  /** x [N,H,W,C] -> [N,H,W,C]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return groupNorm(x, this.weight, this.bias, this.numGroups, this.eps);
  }
}

/**
 * detectron2's FrozenBatchNorm2d (`detectron2/layers/batch_norm.py`): y = x * scale + shift with
 * scale = weight * rsqrt(running_var + eps), shift = bias - running_mean * scale. All four are buffers.
 */
export class FrozenBatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(readonly numFeatures: number, readonly eps = 1e-5) {
    super();
    this.weight = this.registerBuffer('weight', tf.ones([numFeatures]));
    this.bias = this.registerBuffer('bias', tf.zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', tf.zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', tf.ones([numFeatures]).sub(eps));
  }

  /** x [..., C] -> [..., C]. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const scale = this.weight.mul(tf.rsqrt(this.runningVar.add(this.eps)));
      const shift = this.bias.sub(this.runningMean.mul(scale));
      return frozenAffine(x, scale as tf.Tensor1D, shift as tf.Tensor1D); // x * scale + shift, keeping only scale for backward
    });
  }
}

/** torch.nn.Embedding (weight N(0,1)). */
export class Embedding extends Module {
  readonly weight: tf.Variable;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number) {
    super();
    this.weight = this.registerParameter('weight', tf.zeros([numEmbeddings, embeddingDim]));
    normal_(this.getParameter('weight'));
  }

  /** indices (int32) [...] -> [..., dim]. */
  forward(indices: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const flat = indices.reshape([-1]).cast('int32');
      return tf.gather(this.weight, flat).reshape([...indices.shape, this.embeddingDim]);
    });
  }
}

/** detrex's MLP (`detrex/layers/mlp.py`): numLayers Linears, ReLU between them, keys layers.{i}. */
export class MLP extends Module {
  readonly layers: ModuleList<Linear>;

  constructor(inputDim: number, hiddenDim: number, outputDim: number, readonly numLayers: number) {
    super();
    const dims = [inputDim, ...Array(numLayers - 1).fill(hiddenDim)];
    const outs = [...Array(numLayers - 1).fill(hiddenDim), outputDim];
    this.layers = this.registerModule('layers', new ModuleList(dims.map((d, i) => new Linear(d, outs[i]))));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      this.layers.toArray().forEach((layer, i) => {
        h = layer.forward(h);
        if (i < this.numLayers - 1) h = tf.relu(h);
      });
      return h;
    });
  }
}

/** Dropout: identity in eval mode or with p = 0; inverted dropout with a seeded mask in training. */
export class Dropout extends Module {
  constructor(readonly p = 0.5, private readonly rng: Rng = getGlobalRng()) {
    super();
    if (p < 0 || p >= 1) throw new Error(`Dropout probability must be in [0, 1), got ${p}`);
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    return tf.tidy(() => tf.dropout(x, this.p, undefined, this.rng.nextUint32()));
  }
}

/** torch.nn.PReLU with one shared slope (init 0.25), as DAB-DETR's FFN uses. */
export class PReLU extends Module {
  readonly weight: tf.Variable;

  constructor(numParameters = 1, init = 0.25) {
    super();
    this.weight = this.registerParameter('weight', tf.fill([numParameters], init));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.relu(x).add(tf.neg(tf.relu(tf.neg(x))).mul(this.weight)));
  }
}

export { Module, ModuleList };
