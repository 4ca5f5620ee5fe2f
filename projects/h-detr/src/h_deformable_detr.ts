/**
 * H-Deformable-DETR (detrex `projects/h_deformable_detr/modeling/h_deformable_detr.py::HDeformableDETR`),
 * two-stage with box refinement, mixed query selection and look-forward-twice, plus the hybrid
 * matching branch: num_queries_one2one + num_queries_one2many decoder queries (R50: 300 + 1500), the two
 * groups blind to each other in self-attention (`hybridSelfAttnMask`); the one-to-one queries are
 * matched one-to-one, the one-to-many queries against the targets repeated k_one2many times (the
 * criterion does that: criterion/hybrid). Inference runs only the one-to-one queries (detrex switches
 * num_queries and two_stage_num_proposals to num_queries_one2one in eval).
 *
 * Use:
 * - `forward(batch, { training })`: the raw output dict (pred_logits / pred_boxes of the one-to-one
 *   queries, `pred_logits_one2many` / `pred_boxes_one2many`, `aux_outputs`, `aux_outputs_one2many`,
 *   `enc_outputs` over all encoder tokens);
 * - `forwardTrain(batch)`: detrex's training-mode forward, the criterion's losses times the weight dict
 *   (with detrex's `_one2many` copies of every weight);
 * - `predict(batch)`: detections in original-image pixels.
 * Batches carry images already normalised (as @detr/datasets' collate produces); `normalize(raw)` applies
 * pixel_mean / pixel_std to raw RGB 0..255 images, as detrex's `preprocess_image`.
 */
import * as tf from '@tensorflow/tfjs';
import {
  Conv2d,
  Embedding,
  Linear,
  MLP,
  Module,
  ModuleList,
  constant_,
  inverseSigmoid,
  xavierUniform_,
} from '@detr/core';
import { register } from '@detr/registry';
import { applyWeightDict, type DetectorOutputs, type WeightDict } from '@detr/criteria';
import type { DetectionTarget, PredictionTensors } from '@detr/matchers';
import { interpolateMaskNearest, type PositionEmbeddingSine } from '@detr/transformers';
import type { TrainableDetector } from '@detr/engine';
import { hybridSelfAttnMask } from './hybrid_attn_mask';
import type { HDeformableDetrTransformer, HDeformableDetrTransformerTrace } from './h_deformable_transformer';
import { topkDetections, type TopkDetections } from '@detr/engine';

/** A backbone: NHWC images -> named feature maps (e.g. res3..res5). */
export type HDetrBackbone = Module & { forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> };
/** A neck: named feature maps -> the transformer's levels (NHWC, embed_dim channels). */
export type HDetrNeck = Module & { forward(features: Record<string, tf.Tensor4D>): tf.Tensor4D[] };

/** The criterion: raw losses of the output dict (criterion/hybrid), and the weights of its keys. */
export interface HDetrCriterion {
  forward(outputs: DetectorOutputs, targets: readonly DetectionTarget[]): Record<string, tf.Scalar>;
  weight_dict: WeightDict;
  /** criterion/hybrid's k_one2many / lambda_one2many (checked against the detector's). */
  readonly kOne2many?: number;
  readonly lambdaOne2many?: number;
}

/** The output dict (detrex's keys); the one-to-many entries only when those queries ran (training). */
export interface HDeformableDETROutputs extends DetectorOutputs {
  aux_outputs?: PredictionTensors[];
  aux_outputs_one2many?: PredictionTensors[];
  enc_outputs: PredictionTensors;
}

/** What the detector reads from a batch (@detr/engine's Batch satisfies it). */
export interface HDetrBatch {
  /** [B,H,W,3] normalised images, zero-padded bottom/right. */
  images: tf.Tensor4D;
  /** [B,H,W] bool, true = padding (training; and eval with eval_mask 'real'). */
  masks?: tf.Tensor3D;
  /** Per image {labels 0..C-1, boxes normalised cxcywh}; needed by forwardTrain. */
  targets?: DetectionTarget[];
  /** Unpadded [h, w] per image; needed by predict. */
  imageSizes?: [number, number][];
  /** Original [h, w] per image (predict rescales to these; default imageSizes). */
  origSizes?: [number, number][];
}

export interface HDeformableDETROptions {
  backbone: HDetrBackbone;
  position_embedding: PositionEmbeddingSine;
  neck: HDetrNeck;
  transformer: HDeformableDetrTransformer;
  embed_dim: number;
  num_classes: number;
  num_queries_one2one: number;
  num_queries_one2many: number;
  criterion?: HDetrCriterion | null;
  pixel_mean?: number[];
  pixel_std?: number[];
  aux_loss?: boolean;
  /** Must be true (the two-stage variant needs per-layer heads; detrex crashes without). */
  with_box_refine?: boolean;
  /** Must be true (the learned-reference variant is not implemented). */
  as_two_stage?: boolean;
  select_box_nums_for_evaluation?: number;
  /** Accepted for config compatibility with detrex (the backend decides). */
  device?: string;
  mixed_selection?: boolean;
  /** Repeats of the targets for the one-to-many queries; must equal the criterion's k_one2many. */
  k_one2many?: number;
  /** Weight of the one-to-many losses; must equal the criterion's lambda_one2many. */
  lambda_one2many?: number;
  /** detrex's class-head prior (bias = -log((1 - p) / p)). */
  prior_prob?: number;
  /**
   * Padding mask in eval: 'zeros' (detrex: an all-zero mask at inference, the parity default) or 'real'
   * (the batch's masks, as in training).
   */
  eval_mask?: 'zeros' | 'real';
}

/** Intermediates of one forward (for debugging / parity checks); filled only when a trace object is passed. */
export interface HDeformableDETRTrace extends HDeformableDetrTransformerTrace {
  self_attn_mask?: tf.Tensor | null;
  /** Per decoder layer [B,Q,C], the states the heads read. */
  inter_states?: tf.Tensor[];
  init_reference?: tf.Tensor;
  inter_references?: tf.Tensor[];
}

const OPTION_KEYS = [
  'backbone', 'position_embedding', 'neck', 'transformer', 'embed_dim', 'num_classes', 'num_queries_one2one', 'num_queries_one2many',
  'criterion', 'pixel_mean', 'pixel_std', 'aux_loss', 'with_box_refine', 'as_two_stage', 'select_box_nums_for_evaluation', 'device',
  'mixed_selection', 'k_one2many', 'lambda_one2many', 'prior_prob', 'eval_mask',
];

@register('detector', 'h_deformable_detr')
export class HDeformableDETR extends Module implements TrainableDetector {
  readonly backbone: HDetrBackbone;
  readonly position_embedding: PositionEmbeddingSine;
  readonly neck: HDetrNeck;
  readonly query_embedding: Embedding | null;
  readonly transformer: HDeformableDetrTransformer;
  readonly class_embed: ModuleList<Linear>;
  readonly bbox_embed: ModuleList<MLP>;
  readonly criterion: HDetrCriterion | null;
  readonly embedDim: number;
  readonly numClasses: number;
  readonly numQueriesOne2one: number;
  readonly numQueriesOne2many: number;
  /** one-to-one + one-to-many queries (the training-mode count). */
  readonly numQueries: number;
  readonly pixelMean: number[];
  readonly pixelStd: number[];
  readonly auxLoss: boolean;
  readonly selectBoxNums: number;
  readonly kOne2many: number;
  readonly lambdaOne2many: number;
  readonly evalMask: 'zeros' | 'real';
  /** criterion.weight_dict plus a `<key>_one2many` copy of every key (detrex HDeformableDETR.forward). */
  readonly weightDict: WeightDict | null;

  constructor(opts: HDeformableDETROptions) {
    super();
    const unknown = Object.keys(opts ?? {}).filter((k) => !OPTION_KEYS.includes(k));
    if (unknown.length) throw new Error(`HDeformableDETR: unknown option(s) ${unknown.join(', ')} (known: ${OPTION_KEYS.join(', ')})`);
    for (const key of ['backbone', 'position_embedding', 'neck', 'transformer'] as const) {
      if (!opts[key]) throw new Error(`HDeformableDETR: option ${key} is required`);
    }
    const positiveInt = (name: keyof HDeformableDETROptions, v: unknown, min = 1): number => {
      if (!(Number.isInteger(v) && (v as number) >= min)) throw new Error(`HDeformableDETR: ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return v as number;
    };
    this.embedDim = positiveInt('embed_dim', opts.embed_dim);
    this.numClasses = positiveInt('num_classes', opts.num_classes);
    this.numQueriesOne2one = positiveInt('num_queries_one2one', opts.num_queries_one2one);
    this.numQueriesOne2many = positiveInt('num_queries_one2many', opts.num_queries_one2many, 0);
    this.numQueries = this.numQueriesOne2one + this.numQueriesOne2many;
    this.kOne2many = positiveInt('k_one2many', opts.k_one2many ?? 6, 0);
    if (this.kOne2many > 0 && this.numQueriesOne2many === 0) throw new Error(`HDeformableDETR: k_one2many=${this.kOne2many} needs num_queries_one2many > 0 (or set k_one2many=0)`);
    this.lambdaOne2many = opts.lambda_one2many ?? 1.0;
    if (!(Number.isFinite(this.lambdaOne2many) && this.lambdaOne2many >= 0)) throw new Error(`HDeformableDETR: lambda_one2many must be a finite number >= 0, got ${opts.lambda_one2many}`);
    this.selectBoxNums = positiveInt('select_box_nums_for_evaluation', opts.select_box_nums_for_evaluation ?? 100);
    if (this.selectBoxNums > this.numQueriesOne2one * this.numClasses) {
      throw new Error(`HDeformableDETR: select_box_nums_for_evaluation ${this.selectBoxNums} exceeds num_queries_one2one x num_classes = ${this.numQueriesOne2one * this.numClasses}`);
    }
    if (!(opts.with_box_refine ?? false)) throw new Error('HDeformableDETR: with_box_refine=false is not implemented (detrex two-stage needs per-layer heads); set with_box_refine=true');
    if (!(opts.as_two_stage ?? false)) throw new Error('HDeformableDETR: as_two_stage=false is not implemented; set as_two_stage=true');
    const transformer = opts.transformer;
    if (!transformer.asTwoStage) throw new Error('HDeformableDETR: as_two_stage=true but the transformer was built with as_two_stage=false');
    const mixedSelection = opts.mixed_selection ?? true;
    if (mixedSelection !== transformer.mixedSelection) throw new Error(`HDeformableDETR: mixed_selection ${mixedSelection} != the transformer's ${transformer.mixedSelection}`);
    if (transformer.twoStageNumProposals !== this.numQueries) {
      throw new Error(`HDeformableDETR: transformer.two_stage_num_proposals ${transformer.twoStageNumProposals} must equal num_queries_one2one + num_queries_one2many = ${this.numQueries}`);
    }
    if (this.embedDim !== transformer.embedDim) throw new Error(`HDeformableDETR: embed_dim ${this.embedDim} != the transformer's ${transformer.embedDim}`);
    this.evalMask = opts.eval_mask ?? 'zeros';
    if (this.evalMask !== 'zeros' && this.evalMask !== 'real') throw new Error(`HDeformableDETR: eval_mask must be 'zeros' or 'real', got ${JSON.stringify(opts.eval_mask)}`);
    this.pixelMean = [...(opts.pixel_mean ?? [123.675, 116.28, 103.53])];
    this.pixelStd = [...(opts.pixel_std ?? [58.395, 57.12, 57.375])];
    if (this.pixelMean.length !== 3 || this.pixelStd.length !== 3) throw new Error('HDeformableDETR: pixel_mean and pixel_std must have 3 values (RGB)');
    this.auxLoss = opts.aux_loss ?? true;
    this.criterion = opts.criterion ?? null;
    this.weightDict = this.criterion ? this.checkCriterion(this.criterion) : null;

    // Children in detrex's registration order (its state_dict order).
    this.backbone = this.registerModule('backbone', opts.backbone);
    this.position_embedding = this.registerModule('position_embedding', opts.position_embedding);
    this.neck = this.registerModule('neck', opts.neck);
    // Mixed selection: learned content queries (detrex creates query_embedding only then, in two-stage).
    this.query_embedding = this.registerModule('query_embedding', mixedSelection ? new Embedding(this.numQueries, this.embedDim) : null);
    this.transformer = this.registerModule('transformer', transformer);

    // Heads: decoder layers + 1 deep copies of one initialised head; the last pair scores the encoder
    // tokens (two-stage). With as_two_stage every box head's last bias ends at 0 (detrex sets bbox_embed[0]'s
    // bias[2:] to -2, then back to 0).
    const numPred = transformer.decoder.numLayers + 1;
    const prior = opts.prior_prob ?? 0.01;
    const classProto = new Linear(this.embedDim, this.numClasses);
    constant_(classProto.getParameter('bias'), -Math.log((1 - prior) / prior));
    const boxProto = new MLP(this.embedDim, this.embedDim, 4, 3);
    constant_(boxProto.layers.at(-1).getParameter('weight'), 0);
    constant_(boxProto.layers.at(-1).getParameter('bias'), 0);
    this.class_embed = this.registerModule('class_embed', new ModuleList(Array.from({ length: numPred }, () => copyOf(classProto, () => new Linear(this.embedDim, this.numClasses)))));
    this.bbox_embed = this.registerModule('bbox_embed', new ModuleList(Array.from({ length: numPred }, () => copyOf(boxProto, () => new MLP(this.embedDim, this.embedDim, 4, 3)))));
    classProto.dispose();
    boxProto.dispose();
    transformer.decoder.setPredictionHeads(this.class_embed, this.bbox_embed);

    // detrex re-initialises every neck conv: xavier_uniform(gain 1), bias 0.
    for (const [, m] of this.neck.namedModules()) {
      if (m instanceof Conv2d) {
        xavierUniform_(m.getParameter('weight'), 1);
        if (m.bias) constant_(m.getParameter('bias'), 0);
      }
    }
  }

  /** The weight dict forwardTrain applies; checks the criterion's one-to-many settings against ours. */
  private checkCriterion(criterion: HDetrCriterion): WeightDict {
    if (typeof criterion.forward !== 'function' || !criterion.weight_dict || typeof criterion.weight_dict !== 'object') {
      throw new Error('HDeformableDETR: criterion must have forward(outputs, targets) and a weight_dict (criterion/hybrid)');
    }
    if (this.kOne2many > 0 && criterion.kOne2many === undefined) {
      throw new Error(`HDeformableDETR: k_one2many=${this.kOne2many} needs a criterion with the one-to-many branch (criterion/hybrid), got ${criterion.constructor?.name ?? typeof criterion}`);
    }
    if (criterion.kOne2many !== undefined && criterion.kOne2many !== this.kOne2many) {
      throw new Error(`HDeformableDETR: k_one2many ${this.kOne2many} != the criterion's k_one2many ${criterion.kOne2many}`);
    }
    if (criterion.lambdaOne2many !== undefined && criterion.kOne2many !== 0 && criterion.lambdaOne2many !== this.lambdaOne2many) {
      throw new Error(`HDeformableDETR: lambda_one2many ${this.lambdaOne2many} != the criterion's lambda_one2many ${criterion.lambdaOne2many}`);
    }
    // detrex: new_dict[key] = new_dict[key + "_one2many"] = weight_dict[key]; keys the criterion names itself win.
    const out: WeightDict = {};
    for (const [k, v] of Object.entries(criterion.weight_dict)) {
      out[k] = v;
      if (!k.endsWith('_one2many') && !((k + '_one2many') in criterion.weight_dict)) out[k + '_one2many'] = v;
    }
    return out;
  }

  /** Raw RGB 0..255 images [B,H,W,3] -> (x - pixel_mean) / pixel_std. */
  normalize(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => images.toFloat().sub(tf.tensor1d(this.pixelMean)).div(tf.tensor1d(this.pixelStd)) as tf.Tensor4D);
  }

  /**
   * The output dict for a batch. training defaults to `this.training`: all num_queries_one2one +
   * num_queries_one2many queries with the hybrid self-attention mask and the batch's padding mask;
   * in eval only the one-to-one queries (top num_queries_one2one proposals) and, by default, an all-zero
   * padding mask (detrex).
   */
  forward(batch: HDetrBatch, opts: { training?: boolean; trace?: HDeformableDETRTrace } = {}): HDeformableDETROutputs {
    const training = opts.training ?? this.training;
    const images = batch.images;
    if (!images || images.rank !== 4 || images.shape[3] !== 3) throw new Error(`HDeformableDETR.forward: batch.images must be [B,H,W,3], got ${images ? `[${images.shape}]` : images}`);
    const [b, h, w] = images.shape;
    const useRealMask = training || this.evalMask === 'real';
    if (useRealMask && batch.masks && (batch.masks.rank !== 3 || batch.masks.shape[0] !== b || batch.masks.shape[1] !== h || batch.masks.shape[2] !== w)) {
      throw new Error(`HDeformableDETR.forward: batch.masks [${batch.masks.shape}] does not match the images [${images.shape}]`);
    }
    const numQueries = training ? this.numQueries : this.numQueriesOne2one;
    const q1 = this.numQueriesOne2one;
    const trace = opts.trace;
    return tf.tidy(() => {
      const imgMasks = useRealMask && batch.masks ? (batch.masks.cast('bool') as tf.Tensor3D) : (tf.zeros([b, h, w], 'bool') as tf.Tensor3D);
      const features = this.backbone.forward(images);
      const feats = this.neck.forward(features);
      const masks = feats.map((f) => interpolateMaskNearest(imgMasks, [f.shape[1], f.shape[2]]));
      const posEmbeds = masks.map((m) => this.position_embedding.forward(m));
      const queryEmbeds = this.query_embedding ? this.query_embedding.weight.slice([0, 0], [numQueries, this.embedDim]) : null; // [Q,C]
      // With no one-to-many queries the mask blocks nothing (detrex passes an all-false [Q1,Q1] mask).
      const selfAttnMask = numQueries > q1 ? hybridSelfAttnMask(q1, numQueries) : null;

      const out = this.transformer.forward(feats, masks, posEmbeds, queryEmbeds, selfAttnMask, { numProposals: numQueries, trace });

      // Per decoder layer: class logits and refined boxes from the reference that entered the layer.
      const one2one: PredictionTensors[] = [];
      const one2many: PredictionTensors[] = [];
      out.inter_states.forEach((state, l) => {
        const reference = l === 0 ? out.init_reference : out.inter_references[l - 1];
        const logits = this.class_embed.at(l).forward(state); // [B,Q,classes]
        const boxes = tf.sigmoid(this.bbox_embed.at(l).forward(state).add(inverseSigmoid(reference))); // [B,Q,4]
        one2one.push({ pred_logits: logits.slice([0, 0, 0], [b, q1, -1]), pred_boxes: boxes.slice([0, 0, 0], [b, q1, -1]) });
        if (numQueries > q1) {
          one2many.push({ pred_logits: logits.slice([0, q1, 0], [b, -1, -1]), pred_boxes: boxes.slice([0, q1, 0], [b, -1, -1]) });
        }
      });
      const last = one2one.length - 1;
      const result: HDeformableDETROutputs = {
        pred_logits: one2one[last].pred_logits,
        pred_boxes: one2one[last].pred_boxes,
        enc_outputs: { pred_logits: out.enc_outputs_class, pred_boxes: tf.sigmoid(out.enc_outputs_coord_unact) },
      };
      if (one2many.length) {
        result.pred_logits_one2many = one2many[last].pred_logits;
        result.pred_boxes_one2many = one2many[last].pred_boxes;
      }
      if (this.auxLoss) {
        result.aux_outputs = one2one.slice(0, -1);
        if (one2many.length) result.aux_outputs_one2many = one2many.slice(0, -1);
      }
      if (trace) {
        trace.self_attn_mask = selfAttnMask ? tf.keep(selfAttnMask) : null;
        trace.inter_states = out.inter_states.map((st) => tf.keep(st));
        trace.init_reference = tf.keep(out.init_reference);
        trace.inter_references = out.inter_references.map((r) => tf.keep(r));
      }
      return result as unknown as tf.TensorContainer;
    }) as unknown as HDeformableDETROutputs;
  }

  /**
   * detrex's training-mode forward: the outputs with every query, the criterion's losses (one-to-one,
   * `_enc`, `_one2many`), each multiplied by its weight.
   */
  forwardTrain(batch: HDetrBatch): Record<string, tf.Scalar> {
    const criterion = this.criterion;
    const weights = this.weightDict;
    if (!criterion || !weights) throw new Error('HDeformableDETR.forwardTrain: the model was built without a criterion');
    const targets = batch.targets;
    if (!targets) throw new Error('HDeformableDETR.forwardTrain: batch.targets is required');
    if (targets.length !== batch.images.shape[0]) throw new Error(`HDeformableDETR.forwardTrain: ${targets.length} targets for a batch of ${batch.images.shape[0]} images`);
    return tf.tidy(() => {
      const outputs = this.forward(batch, { training: true });
      return applyWeightDict(criterion.forward(outputs, targets), weights);
    });
  }

  /** Detections per image: top select_box_nums_for_evaluation of the one-to-one queries, xyxy original-image pixels. */
  predict(batch: HDetrBatch): TopkDetections[] {
    const imageSizes = batch.imageSizes;
    if (!imageSizes) throw new Error('HDeformableDETR.predict: batch.imageSizes is required');
    const [logits, boxes] = tf.tidy(() => {
      const out = this.forward(batch, { training: false });
      return [out.pred_logits, out.pred_boxes];
    });
    try {
      return this.inference({ pred_logits: logits, pred_boxes: boxes }, imageSizes, batch.origSizes);
    } finally {
      tf.dispose([logits, boxes]);
    }
  }

  /** Eval post-processing of the one-to-one outputs (detrex `inference` + detector_postprocess). */
  inference(outputs: PredictionTensors, imageSizes: readonly (readonly [number, number])[], origSizes?: readonly (readonly [number, number])[]): TopkDetections[] {
    return topkDetections(outputs.pred_logits, outputs.pred_boxes, this.selectBoxNums, imageSizes, origSizes ?? imageSizes);
  }
}

/** A new module (from make) holding a copy of proto's tensors (copy.deepcopy of an initialised head). */
function copyOf<M extends Module>(proto: M, make: () => M): M {
  const m = make();
  m.loadStateDict(proto.stateDict('native'), { strict: true });
  return m;
}
