/**
 * detrex's `ChannelMapper` (`detrex/modeling/neck/channel_mapper.py`, from mmdet): one ConvNormAct per
 * input level mapping its channels to `out_channels`, plus extra levels when `num_outs` exceeds the
 * inputs: the first extra level is a 3x3 stride-2 ConvNormAct on the RAW last input feature (res5,
 * 2048 channels), later ones on the previous output. Keys `convs.{i}.conv.*`, `convs.{i}.norm.*`,
 * `extra_convs.{j}.conv.*`, `extra_convs.{j}.norm.*`.
 *
 * Defaults follow the DINO / Align-DETR / H-DETR configs (kernel_size 1, GroupNorm(32), bias), not
 * the Python constructor's (kernel_size 3, no norm). Init as `DINO.__init__` does for every neck conv:
 * xavier_uniform(gain 1) weight, zero bias.
 */
import * as tf from '@tensorflow/tfjs';
import { Module, ModuleList, type Rng, getGlobalRng, xavierUniform_, zeros_ } from '@detr/core';
import { register } from '@detr/registry';
import { checkNHWC } from './cnn_block_base';
import { type ActivationName, ConvNormAct, type NormLayerSpec } from './conv_norm_act';
import { checkKnownOptions, checkPositiveInt } from './options';
import type { FeatureMaps, ShapeSpec } from './shape_spec';

export interface ChannelMapperOptions {
  /** Channels (and strides) of the backbone outputs, e.g. ResNet.outputShape(). */
  input_shapes: Record<string, ShapeSpec>;
  /** Which inputs to map, in level order (e.g. ['res3', 'res4', 'res5']). */
  in_features: string[];
  out_channels?: number;
  kernel_size?: number;
  stride?: number;
  bias?: boolean;
  groups?: number;
  dilation?: number;
  /** Default {type: 'GroupNorm', num_groups: 32}; null for none. */
  norm_layer?: NormLayerSpec | null;
  activation?: ActivationName | null;
  /** Number of output levels (default: the number of input_shapes, as detrex). */
  num_outs?: number;
}

const OPTION_KEYS = [
  'input_shapes',
  'in_features',
  'out_channels',
  'kernel_size',
  'stride',
  'bias',
  'groups',
  'dilation',
  'norm_layer',
  'activation',
  'num_outs',
] as const;

@register('neck', 'channel_mapper')
export class ChannelMapper extends Module {
  readonly convs: ModuleList<ConvNormAct>;
  readonly extraConvs: ModuleList<ConvNormAct> | null;
  readonly inFeatures: string[];
  readonly inChannels: number[];
  readonly outChannels: number;
  readonly numOuts: number;

  constructor(opts: ChannelMapperOptions) {
    super();
    checkKnownOptions(opts, OPTION_KEYS, 'ChannelMapper');
    const { input_shapes: inputShapes, in_features: inFeatures } = opts;
    if (!inputShapes || typeof inputShapes !== 'object') throw new Error('ChannelMapper: input_shapes must map feature names to {channels}');
    if (!Array.isArray(inFeatures) || inFeatures.length === 0) throw new Error('ChannelMapper: in_features must be a non-empty list');
    this.inFeatures = [...inFeatures];
    this.inChannels = inFeatures.map((f) => {
      const spec = inputShapes[f];
      if (!spec) throw new Error(`ChannelMapper: in_features entry "${f}" is not in input_shapes (${Object.keys(inputShapes).join(', ')})`);
      return checkPositiveInt(spec.channels, `input_shapes.${f}.channels`, 'ChannelMapper');
    });
    this.outChannels = checkPositiveInt(opts.out_channels ?? 256, 'out_channels', 'ChannelMapper');
    this.numOuts = checkPositiveInt(opts.num_outs ?? Object.keys(inputShapes).length, 'num_outs', 'ChannelMapper');
    const kernelSize = checkPositiveInt(opts.kernel_size ?? 1, 'kernel_size', 'ChannelMapper');
    const common = {
      bias: opts.bias ?? true,
      groups: opts.groups ?? 1,
      dilation: opts.dilation ?? 1,
      norm_layer: opts.norm_layer === undefined ? ({ type: 'GroupNorm', num_groups: 32 } as const) : opts.norm_layer,
      activation: opts.activation ?? null,
    };
    this.convs = this.registerModule(
      'convs',
      new ModuleList(
        this.inChannels.map(
          (cin) =>
            new ConvNormAct({
              in_channels: cin,
              out_channels: this.outChannels,
              kernel_size: kernelSize,
              stride: opts.stride ?? 1,
              padding: Math.floor((kernelSize - 1) / 2),
              ...common,
            }),
        ),
      ),
    );
    const extras: ConvNormAct[] = [];
    for (let i = this.inChannels.length; i < this.numOuts; i++) {
      const cin = i === this.inChannels.length ? this.inChannels[this.inChannels.length - 1] : this.outChannels;
      extras.push(new ConvNormAct({ in_channels: cin, out_channels: this.outChannels, kernel_size: 3, stride: 2, padding: 1, ...common }));
    }
    this.extraConvs = this.registerModule('extra_convs', extras.length ? new ModuleList(extras) : null);
    this.initWeights();
  }

  /** DINO.__init__'s neck init: xavier_uniform_(gain=1) on every conv weight, bias 0. */
  initWeights(rng: Rng = getGlobalRng()): void {
    for (const layer of [...this.convs, ...(this.extraConvs ?? [])]) {
      xavierUniform_(layer.conv.getParameter('weight'), 1, rng);
      if (layer.conv.bias) zeros_(layer.conv.getParameter('bias'));
    }
  }

  /** Backbone maps -> numOuts NHWC maps with outChannels channels (level order); the caller disposes them. */
  forward(inputs: FeatureMaps): tf.Tensor4D[] {
    this.inFeatures.forEach((f, i) => {
      const x = inputs[f];
      if (!x) throw new Error(`ChannelMapper.forward: input "${f}" is missing (got ${Object.keys(inputs).join(', ') || 'none'})`);
      checkNHWC(x, this.inChannels[i], `ChannelMapper.forward input "${f}"`);
    });
    return tf.tidy(() => {
      const outs = this.inFeatures.map((f, i) => this.convs.at(i).forward(inputs[f]));
      const extras = this.extraConvs ? this.extraConvs.toArray() : [];
      extras.forEach((layer, i) => {
        outs.push(layer.forward(i === 0 ? inputs[this.inFeatures[this.inFeatures.length - 1]] : outs[outs.length - 1]));
      });
      return outs;
    });
  }

  /** Channels and strides of the outputs (the extra levels halve the last input's stride each). */
  outputShapes(inputShapes: Record<string, ShapeSpec>): ShapeSpec[] {
    const strides = this.inFeatures.map((f) => inputShapes[f]?.stride);
    for (let i = strides.length; i < this.numOuts; i++) {
      const prev = strides[i - 1];
      strides.push(prev === undefined ? undefined : prev * 2);
    }
    return strides.map((stride) => ({ channels: this.outChannels, stride }));
  }
}
