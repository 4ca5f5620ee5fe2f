/**
 * The DINO detector (detrex `projects/dino/modeling/dino.py::DINO`): backbone -> neck -> per-level
 * masks and sine position embeddings -> DINOTransformer (two-stage, mixed query selection, contrastive
 * denoising in training) -> per decoder layer class / box heads (box = sigmoid(bbox_embed[l](h_l) +
 * inverse_sigmoid(reference entering layer l))). Align-DETR is this model with another criterion.
 *
 * Use:
 * - `forward(batch, { training })` returns the detector-output dict (pred_logits, pred_boxes,
 *   aux_outputs, enc_outputs, and in training dn_outputs / dn_meta) for a criterion;
 * - `losses(batch)` is detrex's training-mode `DINO.forward`: the criterion's loss dict multiplied by
 *   its weight_dict (the trainer sums it);
 * - `inference(outputs, imageSizes, origSizes)` is the eval-mode post-processing.
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
  getGlobalRng,
  inverseSigmoid,
  xavierUniform_,
  type Rng,
} from '@detr/core';
import { register } from '@detr/registry';
import {
  type DINOTransformer,
  type DINOTransformerTrace,
  type DenoisingTarget,
  type DnMeta,
  type PositionEmbeddingSine,
  interpolateMaskNearest,
  prepareForCdn,
} from '@detr/transformers';
import { dinoInference, type Detections } from './postprocess';

/** A backbone: NHWC images -> named feature maps (e.g. res3..res5). */
export type DetectorBackbone = Module & { forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> };
/** A neck: named feature maps -> the transformer's levels (NHWC, embed_dim channels). */
export type DetectorNeck = Module & { forward(features: Record<string, tf.Tensor4D>): tf.Tensor4D[] };

/** Predictions of one output (final layer, one aux layer, the encoder, ...). */
export interface Predictions {
  pred_logits: tf.Tensor;
  pred_boxes: tf.Tensor;
}

export interface DINOOutputs extends Predictions {
  aux_outputs?: Predictions[];
  enc_outputs?: Predictions;
  dn_outputs?: Predictions & { aux_outputs?: Predictions[] };
  dn_meta?: DnMeta;
}

/** A set criterion (@detr/criteria): raw losses from outputs and targets, and their weights. */
export interface DetectionCriterion {
  forward(outputs: DINOOutputs, targets: readonly DenoisingTarget[]): Record<string, tf.Scalar>;
  weight_dict: Record<string, number>;
}

/** What `forward` reads from a batch (the fields of @detr/datasets' Batch it needs). */
export interface DetectorBatch {
  /** [B,H,W,3] normalised images, zero-padded bottom/right. */
  images: tf.Tensor4D;
  /** [B,H,W] bool, true = padding. Used in training (and in eval with eval_mask 'real'). */
  masks?: tf.Tensor3D;
  /** Per image {labels, boxes (normalised cxcywh)}; needed in training (CDN queries, losses). */
  targets?: DenoisingTarget[];
  /** Unpadded [h, w] per image (inference scales boxes to these). */
  imageSizes?: [number, number][];
  /** Original [h, w] per image (inference rescales to these). */
  origSizes?: [number, number][];
}

export interface DINOOptions {
  backbone: DetectorBackbone;
  position_embedding: PositionEmbeddingSine;
  neck: DetectorNeck;
  transformer: DINOTransformer;
  embed_dim: number;
  num_classes: number;
  num_queries: number;
  criterion?: DetectionCriterion | null;
  pixel_mean?: number[];
  pixel_std?: number[];
  aux_loss?: boolean;
  select_box_nums_for_evaluation?: number;
  dn_number?: number;
  label_noise_ratio?: number;
  box_noise_scale?: number;
  input_format?: string;
  /** Training-sample visualisation period of detrex; not supported here (must be 0). */
  vis_period?: number;
  /** Accepted for config compatibility with detrex (the backend decides). */
  device?: string;
  /** detrex's class-head prior (bias = -log((1 - p) / p)). */
  prior_prob?: number;
  /**
   * Padding mask in eval: 'zeros' (detrex: all-zero mask at inference, the parity default) or 'real'
   * (the batch's masks, as in training).
   */
  eval_mask?: 'zeros' | 'real';
  /** Random stream of the CDN noise; defaults to the global seeded Rng at each forward (seedEverything). */
  rng?: Rng;
}

/** Intermediates of one forward (for parity checks); filled only when a trace object is passed. */
export interface DINOTrace extends DINOTransformerTrace {
  features?: Record<string, tf.Tensor4D>;
  neck?: tf.Tensor4D[];
  pos_embeds?: tf.Tensor4D[];
  init_reference?: tf.Tensor;
  inter_states?: tf.Tensor[];
  inter_references?: tf.Tensor[];
  enc_state?: tf.Tensor;
}

@register('detector', 'dino')
export class DINO extends Module {
  readonly backbone: DetectorBackbone;
  readonly position_embedding: PositionEmbeddingSine;
  readonly neck: DetectorNeck;
  readonly transformer: DINOTransformer;
  readonly class_embed: ModuleList<Linear>;
  readonly bbox_embed: ModuleList<MLP>;
  readonly label_enc: Embedding;
  readonly criterion: DetectionCriterion | null;
  readonly embedDim: number;
  readonly numClasses: number;
  readonly numQueries: number;
  readonly pixelMean: number[];
  readonly pixelStd: number[];
  readonly auxLoss: boolean;
  readonly selectBoxNums: number;
  readonly dnNumber: number;
  readonly labelNoiseRatio: number;
  readonly boxNoiseScale: number;
  readonly inputFormat: string;
  readonly evalMask: 'zeros' | 'real';
  /** The CDN noise stream given in the options, or null for the global Rng (read at each forward). */
  readonly rng: Rng | null;

  constructor(opts: DINOOptions) {
    super();
    for (const key of ['backbone', 'position_embedding', 'neck', 'transformer'] as const) {
      if (!opts[key]) throw new Error(`DINO: option ${key} is required`);
    }
    if (!(Number.isInteger(opts.num_classes) && opts.num_classes > 0)) throw new Error(`DINO: num_classes must be a positive integer, got ${opts.num_classes}`);
    if (opts.transformer.twoStageNumProposals !== opts.num_queries) {
      throw new Error(`DINO: num_queries ${opts.num_queries} != transformer.two_stage_num_proposals ${opts.transformer.twoStageNumProposals} (detrex sets "\${..num_queries}")`);
    }
    if (opts.embed_dim !== opts.transformer.embedDim) throw new Error(`DINO: embed_dim ${opts.embed_dim} != the transformer's ${opts.transformer.embedDim}`);
    if ((opts.vis_period ?? 0) > 0) throw new Error('DINO: vis_period > 0 (training visualisation) is not supported; use 0');
    this.embedDim = opts.embed_dim;
    this.numClasses = opts.num_classes;
    this.numQueries = opts.num_queries;
    this.pixelMean = [...(opts.pixel_mean ?? [123.675, 116.28, 103.53])];
    this.pixelStd = [...(opts.pixel_std ?? [58.395, 57.12, 57.375])];
    this.auxLoss = opts.aux_loss ?? true;
    this.selectBoxNums = opts.select_box_nums_for_evaluation ?? 300;
    this.dnNumber = opts.dn_number ?? 100;
    this.labelNoiseRatio = opts.label_noise_ratio ?? 0.2;
    this.boxNoiseScale = opts.box_noise_scale ?? 1.0;
    this.inputFormat = opts.input_format ?? 'RGB';
    this.evalMask = opts.eval_mask ?? 'zeros';
    this.rng = opts.rng ?? null;
    this.criterion = opts.criterion ?? null;

    // Children in detrex's registration order (state_dict order).
    this.backbone = this.registerModule('backbone', opts.backbone);
    this.position_embedding = this.registerModule('position_embedding', opts.position_embedding);
    this.neck = this.registerModule('neck', opts.neck);
    this.transformer = this.registerModule('transformer', opts.transformer);

    // Heads: num_decoder_layers + 1 identical copies (detrex deep-copies one initialised head); the
    // last pair is the encoder's (two-stage) head.
    const numPred = this.transformer.decoder.numLayers + 1;
    const prior = opts.prior_prob ?? 0.01;
    const classProto = new Linear(this.embedDim, this.numClasses);
    constant_(classProto.getParameter('bias'), -Math.log((1 - prior) / prior));
    const boxProto = new MLP(this.embedDim, this.embedDim, 4, 3);
    constant_(boxProto.layers.at(-1).getParameter('weight'), 0);
    constant_(boxProto.layers.at(-1).getParameter('bias'), 0); // detrex sets bias[2:] to -2 then back to 0
    this.class_embed = this.registerModule('class_embed', new ModuleList(Array.from({ length: numPred }, () => copyOf(classProto, () => new Linear(this.embedDim, this.numClasses)))));
    this.bbox_embed = this.registerModule('bbox_embed', new ModuleList(Array.from({ length: numPred }, () => copyOf(boxProto, () => new MLP(this.embedDim, this.embedDim, 4, 3)))));
    classProto.dispose();
    boxProto.dispose();
    this.transformer.decoder.setPredictionHeads(this.class_embed, this.bbox_embed);
    this.label_enc = this.registerModule('label_enc', new Embedding(this.numClasses, this.embedDim));

    // detrex re-initialises every neck conv: xavier_uniform(gain 1), bias 0.
    for (const [, m] of this.neck.namedModules()) {
      if (m instanceof Conv2d) {
        xavierUniform_(m.getParameter('weight'), 1);
        if (m.bias) constant_(m.getParameter('bias'), 0);
      }
    }
  }

  /** Raw RGB 0..255 images [B,H,W,3] -> (x - pixel_mean) / pixel_std. */
  normalize(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => images.toFloat().sub(tf.tensor1d(this.pixelMean)).div(tf.tensor1d(this.pixelStd)) as tf.Tensor4D);
  }

  /**
   * The detector outputs for a batch. training defaults to `this.training`; in training, targets are
   * required when dn_number > 0 (CDN queries) and the padding mask is the batch's.
   */
  forward(batch: DetectorBatch, opts: { training?: boolean; trace?: DINOTrace } = {}): DINOOutputs {
    const training = opts.training ?? this.training;
    const images = batch.images;
    if (images.rank !== 4) throw new Error(`DINO.forward: batch.images must be [B,H,W,3], got [${images.shape}]`);
    const [b, h, w] = images.shape;
    const useRealMask = training || this.evalMask === 'real';
    if (useRealMask && batch.masks && (batch.masks.shape[0] !== b || batch.masks.shape[1] !== h || batch.masks.shape[2] !== w)) {
      throw new Error(`DINO.forward: batch.masks [${batch.masks.shape}] does not match the images [${images.shape}]`);
    }
    if (training && this.dnNumber > 0 && !batch.targets) throw new Error('DINO.forward: training needs batch.targets (CDN queries)');
    if (batch.targets && batch.targets.length !== b) throw new Error(`DINO.forward: ${batch.targets.length} targets for a batch of ${b} images`);
    const trace = opts.trace;

    return tf.tidy(() => {
      const imgMasks = useRealMask && batch.masks ? batch.masks.cast('bool') as tf.Tensor3D : (tf.zeros([b, h, w], 'bool') as tf.Tensor3D);
      const features = this.backbone.forward(images);
      const feats = this.neck.forward(features);
      const masks = feats.map((f) => interpolateMaskNearest(imgMasks, [f.shape[1], f.shape[2]]));
      const posEmbeds = masks.map((m) => this.position_embedding.forward(m));

      const cdn = training && batch.targets
        ? prepareForCdn({
            targets: batch.targets,
            dn_number: this.dnNumber,
            label_noise_ratio: this.labelNoiseRatio,
            box_noise_scale: this.boxNoiseScale,
            num_queries: this.numQueries,
            num_classes: this.numClasses,
            label_enc: this.label_enc,
            rng: this.rng ?? getGlobalRng(),
          })
        : null;

      const out = this.transformer.forward(
        feats,
        masks,
        posEmbeds,
        [cdn?.input_query_label ?? null, cdn?.input_query_bbox ?? null],
        [cdn?.attn_mask ?? null, null],
        trace,
      );

      // Per decoder layer: class logits and refined boxes from the reference that entered the layer.
      const logits: tf.Tensor[] = [];
      const boxes: tf.Tensor[] = [];
      out.inter_states.forEach((state, l) => {
        const reference = l === 0 ? out.init_reference : out.inter_references[l - 1];
        logits.push(this.class_embed.at(l).forward(state));
        boxes.push(tf.sigmoid(this.bbox_embed.at(l).forward(state).add(inverseSigmoid(reference))));
      });

      const result: DINOOutputs = { pred_logits: null as unknown as tf.Tensor, pred_boxes: null as unknown as tf.Tensor };
      let matchLogits = logits;
      let matchBoxes = boxes;
      if (cdn) {
        // dn_post_process: the first pad slots are the denoising queries.
        const pad = cdn.dn_meta.single_padding * cdn.dn_meta.dn_num;
        const split = (t: tf.Tensor, from: number, size: number) => t.slice([0, from, 0], [-1, size, -1]);
        const q = logits[0].shape[1]!;
        const dnLogits = logits.map((t) => split(t, 0, pad));
        const dnBoxes = boxes.map((t) => split(t, 0, pad));
        matchLogits = logits.map((t) => split(t, pad, q - pad));
        matchBoxes = boxes.map((t) => split(t, pad, q - pad));
        result.dn_outputs = { pred_logits: dnLogits[dnLogits.length - 1], pred_boxes: dnBoxes[dnBoxes.length - 1] };
        if (this.auxLoss) result.dn_outputs.aux_outputs = auxOutputs(dnLogits, dnBoxes);
        result.dn_meta = cdn.dn_meta;
      }
      result.pred_logits = matchLogits[matchLogits.length - 1];
      result.pred_boxes = matchBoxes[matchBoxes.length - 1];
      if (this.auxLoss) result.aux_outputs = auxOutputs(matchLogits, matchBoxes);
      result.enc_outputs = { pred_logits: this.class_embed.at(-1).forward(out.enc_state), pred_boxes: out.enc_reference };

      if (trace) {
        trace.features = features;
        trace.neck = feats;
        trace.pos_embeds = posEmbeds;
        trace.init_reference = out.init_reference;
        trace.inter_states = out.inter_states;
        trace.inter_references = out.inter_references;
        trace.enc_state = out.enc_state;
        keepAll([features, feats, posEmbeds, out.init_reference, out.inter_states, out.inter_references, out.enc_state]);
      }
      return result as unknown as tf.TensorContainer;
    }) as unknown as DINOOutputs;
  }

  /**
   * detrex's training step of DINO.forward: outputs in training mode, the criterion's losses, each
   * multiplied by criterion.weight_dict[key] when the key is there.
   */
  losses(batch: DetectorBatch): Record<string, tf.Scalar> {
    if (!this.criterion) throw new Error('DINO.losses: the model was built without a criterion');
    const criterion = this.criterion;
    if (!batch.targets) throw new Error('DINO.losses: batch.targets is required');
    return tf.tidy(() => {
      const outputs = this.forward(batch, { training: true });
      const raw = criterion.forward(outputs, batch.targets!);
      const weighted: Record<string, tf.Scalar> = {};
      for (const [k, v] of Object.entries(raw)) weighted[k] = k in criterion.weight_dict ? (v.mul(criterion.weight_dict[k]) as tf.Scalar) : v;
      return weighted;
    });
  }

  /** The engine's training entry (`TrainableDetector.forwardTrain`): the weighted loss dict. */
  forwardTrain(batch: DetectorBatch): Record<string, tf.Scalar> {
    return this.losses(batch);
  }

  /** The engine's evaluation entry (`TrainableDetector.predict`): eval forward + post-processing. */
  predict(batch: DetectorBatch): Detections[] {
    if (!batch.imageSizes) throw new Error('DINO.predict: batch.imageSizes is required');
    const outputs = this.forward(batch, { training: false });
    try {
      return this.inference(outputs, batch.imageSizes, batch.origSizes);
    } finally {
      tf.dispose(outputs as unknown as tf.TensorContainer);
    }
  }

  /** Eval post-processing of `forward`'s outputs: top select_box_nums_for_evaluation over Q x C, rescaled and clipped. */
  inference(outputs: Predictions, imageSizes: readonly (readonly [number, number])[], origSizes?: readonly (readonly [number, number])[]): Detections[] {
    return dinoInference(outputs.pred_logits, outputs.pred_boxes, this.selectBoxNums, imageSizes, origSizes);
  }
}

/** The per-layer outputs except the last (detrex `_set_aux_loss`). */
function auxOutputs(logits: tf.Tensor[], boxes: tf.Tensor[]): Predictions[] {
  return logits.slice(0, -1).map((l, i) => ({ pred_logits: l, pred_boxes: boxes[i] }));
}

/** A new module (from make) holding a copy of proto's tensors (copy.deepcopy of an initialised head). */
function copyOf<M extends Module>(proto: M, make: () => M): M {
  const m = make();
  m.loadStateDict(proto.stateDict('native'), { strict: true });
  return m;
}

function keepAll(items: unknown[]): void {
  for (const item of items) {
    if (item instanceof tf.Tensor) tf.keep(item);
    else if (Array.isArray(item)) keepAll(item);
    else if (item && typeof item === 'object') keepAll(Object.values(item));
  }
}
