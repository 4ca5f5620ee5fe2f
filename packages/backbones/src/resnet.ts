/**
 * ResNet-18/34/50/101/152 in detectron2's layout (`detectron2/modeling/backbone/resnet.py`, detrex's
 * copy `detrex/modeling/backbone/resnet.py`): BasicStem, then stages res2..res5 of Basic / Bottleneck
 * blocks. Parameter names are detectron2's (`stem.conv1.weight`, `res2.0.conv1.norm.running_mean`,
 * `res2.0.shortcut.weight`), so under a detector's `backbone` child they are detrex's `backbone.*` keys.
 *
 * Input: NHWC, already normalised (see PixelNormalizer). Output: the requested feature maps, NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import { Module, ModuleList, checkpoint } from '@detr/core';
import { register } from '@detr/registry';
import { BasicStem } from './basic_stem';
import { type CNNBlockBase, checkNHWC } from './cnn_block_base';
import { runOffTape } from './frozen_prefix';
import { checkNormName, type NormName } from './norm';
import { checkKnownOptions } from './options';
import { makeResNetStages, RESNET_DEPTHS, type ResNetDepth } from './resnet_stages';
import type { FeatureMaps, ShapeSpec } from './shape_spec';

export const RESNET_FEATURES = ['stem', 'res2', 'res3', 'res4', 'res5'] as const;
export type ResNetFeature = (typeof RESNET_FEATURES)[number];

export interface ResNetOptions {
  /** 18, 34 (BasicBlock), 50, 101, 152 (BottleneckBlock). Default 50. */
  depth?: ResNetDepth;
  /** Which maps forward returns, from 'stem', 'res2'..'res5'. Default ['res5'] (detectron2: the last stage). */
  out_features?: ResNetFeature[];
  /**
   * detectron2's `freeze_at`: 1 freezes the stem, 2 the stem and res2, ... 5 everything; 0 or -1
   * freezes nothing. detrex's DINO / Align-DETR configs use 1.
   */
  freeze_at?: number;
  /** 'FrozenBN' (default, detrex), 'GN' (GroupNorm 32) or '' (none). */
  norm?: NormName;
  /** Stride in the first 1x1 conv (MSRA / caffe2) instead of the 3x3 (torchvision, detrex). Default false. */
  stride_in_1x1?: boolean;
  /** 2 = DC5: res5 keeps stride 16 with dilation-2 3x3 convs. Default 1. ResNet-50+ only. */
  res5_dilation?: 1 | 2;
  /** DC5 only: 'all' res5 blocks dilated (detectron2, default) or 'after_first' (torchvision, detrex's TorchvisionResNet). */
  dc5_style?: 'all' | 'after_first';
  /** Input channels (3). */
  in_channels?: number;
  /**
   * Widths, as detectron2's MODEL.RESNETS.{STEM_OUT_CHANNELS, RES2_OUT_CHANNELS, WIDTH_PER_GROUP}
   * (defaults 64, 64 for R18/34 or 256 for R50+, 64). detectron2 asserts the standard widths for
   * R18/R34; here narrower ResNets are allowed (the small configs of the embedded dataset use half width).
   */
  stem_out_channels?: number;
  res2_out_channels?: number;
  width_per_group?: number;
  /**
   * Recompute each trainable block in the backward pass instead of keeping its activations
   * (ops/checkpoint.ts) while training. Default false.
   */
  activation_checkpoint?: boolean;
}

const OPTION_KEYS = [
  'depth',
  'out_features',
  'freeze_at',
  'norm',
  'stride_in_1x1',
  'res5_dilation',
  'dc5_style',
  'in_channels',
  'stem_out_channels',
  'res2_out_channels',
  'width_per_group',
  'activation_checkpoint',
] as const;

@register('backbone', 'resnet')
export class ResNet extends Module {
  readonly stem: BasicStem;
  /** res2..res5 (only up to the last requested output, as detrex builds them). */
  readonly stages: ModuleList<CNNBlockBase>[] = [];
  readonly stageNames: string[] = [];
  readonly outFeatures: ResNetFeature[];
  readonly depth: ResNetDepth;
  readonly inChannels: number;
  /**
   * Run the frozen leading parts off the gradient tape (default true; see forward). Set false to
   * differentiate the outputs with respect to the input image through a frozen stem.
   */
  runFrozenOffTape = true;
  readonly activationCheckpoint: boolean;
  private readonly featureStrides: Record<string, number> = {};
  private readonly featureChannels: Record<string, number> = {};

  constructor(opts: ResNetOptions = {}) {
    super();
    checkKnownOptions(opts, OPTION_KEYS, 'ResNet');
    const depth = opts.depth ?? 50;
    if (!RESNET_DEPTHS.includes(depth)) throw new Error(`ResNet: depth must be one of ${RESNET_DEPTHS.join(', ')}, got ${JSON.stringify(depth)}`);
    this.depth = depth;
    const outFeatures = opts.out_features ?? ['res5'];
    if (!Array.isArray(outFeatures) || outFeatures.length === 0) throw new Error('ResNet: out_features must be a non-empty list');
    for (const f of outFeatures) {
      if (!RESNET_FEATURES.includes(f)) throw new Error(`ResNet: unknown out_features entry ${JSON.stringify(f)} (valid: ${RESNET_FEATURES.join(', ')})`);
    }
    this.outFeatures = [...outFeatures];
    const norm = checkNormName(opts.norm ?? 'FrozenBN', 'ResNet');
    this.inChannels = opts.in_channels ?? 3;
    this.activationCheckpoint = opts.activation_checkpoint ?? false;

    this.stem = this.registerModule('stem', new BasicStem({ in_channels: this.inChannels, out_channels: opts.stem_out_channels ?? 64, norm }));
    let stride = this.stem.stride;
    this.featureStrides.stem = stride;
    this.featureChannels.stem = this.stem.outChannels;

    // detrex: "Avoid keeping unused layers in this module": build stages up to the last requested one.
    const numStages = Math.max(0, ...this.outFeatures.map((f) => RESNET_FEATURES.indexOf(f)));
    const stages = makeResNetStages({
      depth,
      norm,
      stride_in_1x1: opts.stride_in_1x1 ?? false,
      res5_dilation: opts.res5_dilation ?? 1,
      dc5_style: opts.dc5_style ?? 'all',
      num_stages: numStages,
      in_channels: this.stem.outChannels,
      res2_out_channels: opts.res2_out_channels,
      width_per_group: opts.width_per_group,
    });
    stages.forEach((blocks, i) => {
      const name = `res${i + 2}`;
      this.stages.push(this.registerModule(name, new ModuleList(blocks)));
      this.stageNames.push(name);
      stride *= blocks.reduce((s, b) => s * b.stride, 1);
      this.featureStrides[name] = stride;
      this.featureChannels[name] = blocks[blocks.length - 1].outChannels;
    });
    this.freezeAt(opts.freeze_at ?? 0);
  }

  /**
   * detectron2's `ResNet.freeze(freeze_at)`: requiresGrad=false on the stem for freeze_at >= 1 and on
   * stage res{k} for freeze_at >= k. Parts it does not freeze are left as they are.
   */
  freezeAt(freezeAt: number): this {
    if (!Number.isInteger(freezeAt) || freezeAt < -1 || freezeAt > 5) {
      throw new Error(`ResNet: freeze_at must be an integer in [-1, 5], got ${JSON.stringify(freezeAt)}`);
    }
    if (freezeAt >= 1) this.stem.freeze();
    this.stages.forEach((stage, i) => {
      if (freezeAt >= i + 2) stage.freeze();
    });
    return this;
  }

  /** Channels and stride of every requested output (detectron2's `output_shape()`). */
  outputShape(): Record<string, ShapeSpec> {
    const out: Record<string, ShapeSpec> = {};
    for (const f of this.outFeatures) out[f] = { channels: this.featureChannels[f], stride: this.featureStrides[f] };
    return out;
  }

  /**
   * x [B,H,W,in_channels] (normalised) -> the requested maps, NHWC; the caller disposes them.
   * With `runFrozenOffTape`, the frozen leading parts (stem, then whole stages with no trainable
   * parameter, up to the first requested output) run off the gradient tape (frozen_prefix.ts): same
   * values, and under tf.grad they keep no activations for a backward pass that reaches no weight.
   */
  forward(x: tf.Tensor4D): FeatureMaps {
    checkNHWC(x, this.inChannels, 'ResNet.forward');
    const parts: { name: string; run: (h: tf.Tensor4D) => tf.Tensor4D; module: Module }[] = [
      { name: 'stem', run: (h) => this.stem.forward(h), module: this.stem },
      ...this.stages.map((stage, i) => ({
        name: this.stageNames[i],
        run: (h: tf.Tensor4D) =>
          stage.toArray().reduce((acc, block) => {
            const params = block.trainableVariables().map((v) => v.variable);
            return this.activationCheckpoint && this.training && params.length > 0
              ? (checkpoint((t) => block.forward(t as tf.Tensor4D), [acc], params) as tf.Tensor4D)
              : block.forward(acc);
          }, h),
        module: stage as Module,
      })),
    ];
    const wanted = (name: string) => this.outFeatures.includes(name as ResNetFeature);
    let frozen = 0;
    while (this.runFrozenOffTape && frozen < parts.length && parts[frozen].module.trainableVariables().length === 0) {
      frozen++;
      if (wanted(parts[frozen - 1].name)) break;
    }
    return tf.tidy(() => {
      const outputs: FeatureMaps = {};
      let h = x;
      if (frozen > 0) {
        const names = parts.slice(0, frozen).map((p) => p.name);
        h = runOffTape((input: tf.Tensor4D) => parts.slice(0, frozen).reduce((acc, part) => part.run(acc), input), h, `ResNet ${names.join(' + ')}`);
        if (wanted(parts[frozen - 1].name)) outputs[parts[frozen - 1].name] = h;
      }
      for (const part of parts.slice(frozen)) {
        h = part.run(h);
        if (wanted(part.name)) outputs[part.name] = h;
      }
      return outputs;
    });
  }
}
