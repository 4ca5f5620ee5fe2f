/**
 * DAB-DETR (Liu et al., "DAB-DETR: Dynamic Anchor Boxes are Better Queries for DETR", ICLR 2022) as
 * detrex implements it (`projects/dab_detr/modeling/dab_detr.py::DABDETR`, `configs/models/dab_detr_r50.py`):
 *
 *   backbone -> in_features[-1] (res5) -> input_proj (1x1 conv -> embed_dim) -> position embedding
 *   -> DabDetrTransformer (encoder; decoder refining `anchor_box_embed` [Q,4] logits layer by layer)
 *   -> per decoder layer: pred_logits = class_embed(h), pred_boxes = sigmoid(inverse_sigmoid(ref) + bbox_embed(h))
 *
 * Upstream behaviours kept as defaults (DESIGN.md "Faithfulness"), each with an option:
 * - `freeze_anchor_box_centers` (default true) re-initialises the anchor centres to inverse_sigmoid(U(0,1))
 *   and, upstream, tries to freeze them with `weight.data[:, :2].requires_grad = False`, a no-op: the
 *   centres still train. `hard_freeze_anchor_box_centers: true` really stops their gradient (AdamW's
 *   decoupled weight decay still shrinks them by lr*wd per step, like any parameter with a zero gradient).
 * - The decoder's cross-attention does not get the padding mask (`decoder_key_padding_mask: true` passes it).
 * - At inference the padding mask is all zeros even for padded batches (`eval_padding_mask: true` uses
 *   the batch's mask).
 * Images arrive normalised (the data pipeline applies pixel_mean / pixel_std).
 */
import * as tf from '@tensorflow/tfjs';
import { Embedding, Linear, MLP, Module, constant_, inverseSigmoid, uniformValues } from '@detr/core';
import type { DetectorOutputs, LossDict, WeightDict } from '@detr/criteria';
import { applyWeightDict } from '@detr/criteria';
import type { Batch, Detections } from '@detr/engine';
import type { DetectionTarget } from '@detr/matchers';
import { InputProjection } from '@detr/backbones';
import { register } from '@detr/registry';
import { interpolateMaskNearest, stopGradient } from '@detr/transformers';
import type { DabDetrTransformer } from './dab_transformer';
import { checkKnownOptions, positiveInt } from './options';
import { detectionsFromOutputs, disposeTensorTree } from '@detr/engine';

/** A backbone: NHWC images -> named NHWC feature maps (e.g. @detr/backbones ResNet). */
export type FeatureBackbone = Module & { forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> };

/** A position embedding of a padding mask [B,H,W] -> [B,H,W,embed_dim] (PositionEmbeddingSine). */
export type MaskPositionEmbedding = Module & { forward(mask: tf.Tensor3D): tf.Tensor4D };

/** What the detector needs from a criterion (criterion/set): raw losses and the weights to apply. */
export interface DetectorCriterion {
  forward(outputs: DetectorOutputs, targets: readonly DetectionTarget[]): LossDict;
  readonly weight_dict: WeightDict;
}

export interface DABDETROptions {
  backbone: FeatureBackbone;
  /** Backbone outputs; only the last is used (detrex: `in_features=["res5"]`). */
  in_features?: string[];
  /** Channels of that feature map (2048 for ResNet-50 res5). */
  in_channels?: number;
  position_embedding: MaskPositionEmbedding;
  transformer: DabDetrTransformer;
  embed_dim?: number;
  num_classes: number;
  num_queries?: number;
  criterion: DetectorCriterion;
  aux_loss?: boolean;
  freeze_anchor_box_centers?: boolean;
  hard_freeze_anchor_box_centers?: boolean;
  select_box_nums_for_evaluation?: number;
  decoder_key_padding_mask?: boolean;
  eval_padding_mask?: boolean;
}

const KEYS = [
  'backbone',
  'in_features',
  'in_channels',
  'position_embedding',
  'transformer',
  'embed_dim',
  'num_classes',
  'num_queries',
  'criterion',
  'aux_loss',
  'freeze_anchor_box_centers',
  'hard_freeze_anchor_box_centers',
  'select_box_nums_for_evaluation',
  'decoder_key_padding_mask',
  'eval_padding_mask',
];

@register('detector', 'dab_detr')
export class DABDETR extends Module {
  readonly backbone: FeatureBackbone;
  readonly inFeatures: string[];
  readonly position_embedding: MaskPositionEmbedding;
  readonly input_proj: InputProjection;
  readonly transformer: DabDetrTransformer;
  readonly anchor_box_embed: Embedding;
  readonly class_embed: Linear;
  readonly bbox_embed: MLP;
  readonly criterion: DetectorCriterion;
  readonly numClasses: number;
  readonly numQueries: number;
  readonly auxLoss: boolean;
  readonly hardFreezeAnchorCenters: boolean;
  readonly selectBoxNums: number;
  readonly decoderKeyPaddingMask: boolean;
  readonly evalPaddingMask: boolean;

  constructor(opts: DABDETROptions) {
    super();
    const where = 'DABDETR';
    if (!opts || typeof opts !== 'object') throw new Error(`${where}: options must be an object`);
    checkKnownOptions(opts, KEYS, where);
    for (const name of ['backbone', 'position_embedding', 'transformer'] as const) {
      if (!(opts[name] instanceof Module)) throw new Error(`${where}: ${name} must be a built module (got ${typeof opts[name]})`);
    }
    if (!opts.criterion || typeof opts.criterion.forward !== 'function' || !opts.criterion.weight_dict) {
      throw new Error(`${where}: criterion must be a criterion with forward(outputs, targets) and weight_dict (criterion/set)`);
    }
    const embedDim = positiveInt(opts.embed_dim ?? 256, 'embed_dim', where);
    if (opts.transformer.embedDim !== embedDim) throw new Error(`${where}: embed_dim ${embedDim} differs from the transformer's ${opts.transformer.embedDim}`);
    this.numClasses = positiveInt(opts.num_classes, 'num_classes', where);
    this.numQueries = positiveInt(opts.num_queries ?? 300, 'num_queries', where);
    this.inFeatures = opts.in_features ?? ['res5'];
    if (!Array.isArray(this.inFeatures) || this.inFeatures.length === 0) throw new Error(`${where}: in_features must be a non-empty list of backbone outputs`);
    this.auxLoss = opts.aux_loss ?? true;
    this.hardFreezeAnchorCenters = opts.hard_freeze_anchor_box_centers ?? false;
    this.selectBoxNums = positiveInt(opts.select_box_nums_for_evaluation ?? 300, 'select_box_nums_for_evaluation', where);
    this.decoderKeyPaddingMask = opts.decoder_key_padding_mask ?? false;
    this.evalPaddingMask = opts.eval_padding_mask ?? false;
    this.criterion = opts.criterion;

    // Registration order = detrex's attribute order (its state-dict order).
    this.backbone = this.registerModule('backbone', opts.backbone);
    this.position_embedding = this.registerModule('position_embedding', opts.position_embedding);
    this.input_proj = this.registerModule('input_proj', new InputProjection({ in_channels: positiveInt(opts.in_channels ?? 2048, 'in_channels', where), embed_dim: embedDim }));
    this.transformer = this.registerModule('transformer', opts.transformer);
    this.anchor_box_embed = this.registerModule('anchor_box_embed', new Embedding(this.numQueries, 4));
    this.class_embed = this.registerModule('class_embed', new Linear(embedDim, this.numClasses));
    this.bbox_embed = this.registerModule('bbox_embed', new MLP(embedDim, embedDim, 4, 3));
    // detrex: `self.transformer.decoder.bbox_embed = self.bbox_embed` (one module, two names).
    this.transformer.decoder.setBoxEmbed(this.bbox_embed);
    this.initWeights(opts.freeze_anchor_box_centers ?? true);
  }

  /** detrex `DABDETR.init_weights`. */
  private initWeights(freezeAnchorBoxCenters: boolean): void {
    if (freezeAnchorBoxCenters) {
      // weight[:, :2] = inverse_sigmoid(U(0, 1)) (the requires_grad = False that follows is a no-op upstream).
      tf.tidy(() => {
        const w = this.anchor_box_embed.weight;
        const xy = inverseSigmoid(tf.tensor2d(uniformValues([this.numQueries, 2], 0, 1), [this.numQueries, 2]));
        w.assign(tf.concat([xy, w.slice([0, 2], [this.numQueries, 2])], 1));
      });
    }
    const priorProb = 0.01;
    constant_(this.class_embed.getParameter('bias'), -Math.log((1 - priorProb) / priorProb));
    const lastBox = this.bbox_embed.layers.at(-1);
    constant_(lastBox.getParameter('weight'), 0);
    constant_(lastBox.getParameter('bias'), 0);
  }

  /** The anchors the decoder starts from, [Q,4] logits; centres without gradient when hard-frozen. */
  private anchors(): tf.Tensor2D {
    const w = this.anchor_box_embed.weight as tf.Tensor2D;
    if (!this.hardFreezeAnchorCenters) return w;
    return tf.tidy(() => tf.concat([stopGradient(w.slice([0, 0], [this.numQueries, 2])), w.slice([0, 2], [this.numQueries, 2])], 1));
  }

  /**
   * Raw outputs (detrex's output dict): pred_logits [B,Q,C], pred_boxes [B,Q,4] normalised cxcywh, and
   * aux_outputs for decoder layers 0..L-2. The padding mask is the batch's in training mode and all
   * zeros in eval mode (detrex), unless eval_padding_mask.
   */
  forward(batch: Batch): DetectorOutputs {
    const { images, masks } = batch;
    if (images.rank !== 4 || masks.rank !== 3 || masks.shape[0] !== images.shape[0] || masks.shape[1] !== images.shape[1] || masks.shape[2] !== images.shape[2]) {
      throw new Error(`DABDETR: batch.images must be [B,H,W,3] and batch.masks [B,H,W]; got [${images.shape}] and [${masks.shape}]`);
    }
    return tf.tidy(() => {
      const featureMaps = this.backbone.forward(images);
      const name = this.inFeatures[this.inFeatures.length - 1];
      const feature = featureMaps[name];
      if (!feature) throw new Error(`DABDETR: the backbone has no output "${name}" (it returned ${Object.keys(featureMaps).join(', ')})`);
      const x = this.input_proj.forward(feature); // [B,h,w,C]
      const [, h, w] = x.shape;
      const imageMask = this.training || this.evalPaddingMask ? masks.cast('bool') : tf.zeros(masks.shape, 'bool');
      const mask = interpolateMaskNearest(imageMask as tf.Tensor3D, [h, w]); // [B,h,w]
      const pos = this.position_embedding.forward(mask); // [B,h,w,C]
      const { states, references } = this.transformer.forward({
        features: x,
        mask,
        anchor_box_embed: this.anchors(),
        pos_embed: pos,
        decoder_key_padding_mask: this.decoderKeyPaddingMask,
      });
      const perLayer = states.map((state, l) => ({
        pred_logits: this.class_embed.forward(state), // [B,Q,C]
        pred_boxes: tf.sigmoid(inverseSigmoid(references[l]).add(this.bbox_embed.forward(state))), // [B,Q,4]
      }));
      const last = perLayer[perLayer.length - 1];
      return this.auxLoss ? { ...last, aux_outputs: perLayer.slice(0, -1) } : last;
    });
  }

  /** Training step: the criterion's losses multiplied by its weight_dict (what detrex's forward returns). */
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

/** Dispose every tensor of an outputs dict. */
export function disposeOutputs(outputs: DetectorOutputs): void {
  disposeTensorTree(outputs);
}
