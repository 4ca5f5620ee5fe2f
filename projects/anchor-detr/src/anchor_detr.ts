/**
 * Anchor DETR (official megvii-research/AnchorDETR `models/anchor_detr.py::AnchorDETR`), single level:
 *
 *   backbone -> in_features[-1] (C5, or DC5 with a dilated res5) -> input_proj[0] = Conv1x1 -> GroupNorm(32)
 *   -> AnchorDETRTransformer (RCDA encoder, anchor-point queries with patterns, RCDA decoder, shared heads)
 *
 * Unlike detrex's detectors, the padding mask is used in training AND inference, as upstream (its
 * NestedTensor masks). Images arrive normalised. Parameter names are the official ones except the
 * backbone, which uses detectron2 names under `backbone.*` (see official_keys.ts for the mapping of an
 * official checkpoint's `backbone.0.body.*` torchvision keys).
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, GroupNorm, Module, ModuleList, constant_, xavierUniform_ } from '@detr/core';
import type { DetectorOutputs, LossDict, WeightDict } from '@detr/criteria';
import { applyWeightDict } from '@detr/criteria';
import type { Batch, Detections } from '@detr/engine';
import type { DetectionTarget } from '@detr/matchers';
import { register } from '@detr/registry';
import { interpolateMaskNearest } from '@detr/transformers';
import type { AnchorDETRTransformer } from './anchor_transformer';
import { checkKnownOptions, positiveInt } from './options';
import { detectionsFromOutputs } from '@detr/engine';

/** A backbone: NHWC images -> named NHWC feature maps (e.g. @detr/backbones ResNet). */
export type FeatureBackbone = Module & { forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> };

/** What the detector needs from a criterion (criterion/set): raw losses and the weights to apply. */
export interface DetectorCriterion {
  forward(outputs: DetectorOutputs, targets: readonly DetectionTarget[]): LossDict;
  readonly weight_dict: WeightDict;
}

/** Upstream `nn.Sequential(Conv2d(C_in, d, 1), GroupNorm(32, d))`: keys `0.*` (conv), `1.*` (norm). */
export class ConvGroupNorm extends Module {
  readonly conv: Conv2d;
  readonly norm: GroupNorm;

  constructor(inChannels: number, outChannels: number, groups = 32) {
    super();
    this.conv = this.registerModule('0', new Conv2d(inChannels, outChannels, 1));
    this.norm = this.registerModule('1', new GroupNorm(groups, outChannels));
    // Upstream AnchorDETR.__init__: xavier_uniform_(proj[0].weight, gain=1), bias 0.
    xavierUniform_(this.conv.getParameter('weight'), 1);
    constant_(this.conv.getParameter('bias'), 0);
  }

  /** x [B,H,W,C_in] -> [B,H,W,d]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.norm.forward(this.conv.forward(x)));
  }
}

export interface AnchorDETROptions {
  backbone: FeatureBackbone;
  transformer: AnchorDETRTransformer;
  criterion: DetectorCriterion;
  /** Must equal the transformer's num_classes (its class_embed). */
  num_classes: number;
  /** Backbone outputs; only the last is used (single level). Default ['res5']. */
  in_features?: string[];
  /** Channels of that map (2048 for ResNet-50 res5). */
  in_channels?: number;
  /** Only 1 (upstream's default); multi-level is not implemented. */
  num_feature_levels?: number;
  aux_loss?: boolean;
  /** Detections kept per image (upstream PostProcess: 100). */
  select_box_nums_for_evaluation?: number;
}

const KEYS = ['backbone', 'transformer', 'criterion', 'num_classes', 'in_features', 'in_channels', 'num_feature_levels', 'aux_loss', 'select_box_nums_for_evaluation'];

@register('detector', 'anchor_detr')
export class AnchorDETR extends Module {
  readonly transformer: AnchorDETRTransformer;
  readonly input_proj: ModuleList<ConvGroupNorm>;
  readonly backbone: FeatureBackbone;
  readonly criterion: DetectorCriterion;
  readonly inFeatures: string[];
  readonly auxLoss: boolean;
  readonly selectBoxNums: number;

  constructor(opts: AnchorDETROptions) {
    super();
    const where = 'AnchorDETR';
    if (!opts || typeof opts !== 'object') throw new Error(`${where}: options must be an object`);
    checkKnownOptions(opts, KEYS, where);
    for (const name of ['backbone', 'transformer'] as const) {
      if (!(opts[name] instanceof Module)) throw new Error(`${where}: ${name} must be a built module (got ${typeof opts[name]})`);
    }
    if (!opts.criterion || typeof opts.criterion.forward !== 'function' || !opts.criterion.weight_dict) {
      throw new Error(`${where}: criterion must be a criterion with forward(outputs, targets) and weight_dict (criterion/set)`);
    }
    const numClasses = positiveInt(opts.num_classes, 'num_classes', where);
    if (opts.transformer.numClasses !== numClasses) {
      throw new Error(`${where}: num_classes ${numClasses} differs from the transformer's num_classes ${opts.transformer.numClasses} (set transformer.num_classes, e.g. '\${..num_classes}')`);
    }
    if ((opts.num_feature_levels ?? 1) !== 1) throw new Error(`${where}: num_feature_levels must be 1 (multi-level Anchor DETR is not implemented)`);
    this.inFeatures = opts.in_features ?? ['res5'];
    if (!Array.isArray(this.inFeatures) || this.inFeatures.length === 0) throw new Error(`${where}: in_features must be a non-empty list of backbone outputs`);
    this.auxLoss = opts.aux_loss ?? true;
    this.selectBoxNums = positiveInt(opts.select_box_nums_for_evaluation ?? 100, 'select_box_nums_for_evaluation', where);
    this.criterion = opts.criterion;
    // Registration order = upstream attribute order (its state-dict order).
    this.transformer = this.registerModule('transformer', opts.transformer);
    const inChannels = positiveInt(opts.in_channels ?? 2048, 'in_channels', where);
    this.input_proj = this.registerModule('input_proj', new ModuleList([new ConvGroupNorm(inChannels, opts.transformer.dModel)]));
    this.backbone = this.registerModule('backbone', opts.backbone);
  }

  /**
   * Raw outputs: pred_logits [B,Q,C], pred_boxes [B,Q,4] normalised cxcywh (Q = patterns x positions),
   * aux_outputs for decoder layers 0..L-2. The batch's padding mask is used in every mode (upstream).
   */
  forward(batch: Batch): DetectorOutputs {
    const { images, masks } = batch;
    if (images.rank !== 4 || masks.rank !== 3 || masks.shape[0] !== images.shape[0] || masks.shape[1] !== images.shape[1] || masks.shape[2] !== images.shape[2]) {
      throw new Error(`AnchorDETR: batch.images must be [B,H,W,3] and batch.masks [B,H,W]; got [${images.shape}] and [${masks.shape}]`);
    }
    return tf.tidy(() => {
      const featureMaps = this.backbone.forward(images);
      const name = this.inFeatures[this.inFeatures.length - 1];
      const feature = featureMaps[name];
      if (!feature) throw new Error(`AnchorDETR: the backbone has no output "${name}" (it returned ${Object.keys(featureMaps).join(', ')})`);
      const src = this.input_proj.at(0).forward(feature); // [B,h,w,d]
      const mask = interpolateMaskNearest(masks.cast('bool') as tf.Tensor3D, [src.shape[1], src.shape[2]]); // [B,h,w]
      const { logits, boxes } = this.transformer.forward(src, mask);
      const perLayer = logits.map((l, i) => ({ pred_logits: l, pred_boxes: boxes[i] }));
      const last = perLayer[perLayer.length - 1];
      return this.auxLoss ? { ...last, aux_outputs: perLayer.slice(0, -1) } : last;
    });
  }

  /** Training step: the criterion's losses multiplied by its weight_dict. */
  forwardTrain(batch: Batch): Record<string, tf.Scalar> {
    return tf.tidy(() => {
      const outputs = this.forward(batch);
      const losses = this.criterion.forward(outputs, batch.targets);
      return applyWeightDict(losses, this.criterion.weight_dict);
    });
  }

  /** Detections per image: top select_box_nums_for_evaluation, xyxy in original-image pixels. */
  predict(batch: Batch): Detections[] {
    return detectionsFromOutputs(this.forward(batch), this.selectBoxNums, batch);
  }
}
