/**
 * Anchor DETR's transformer (Wang et al., "Anchor DETR: Query Design for Transformer-Based Detector",
 * AAAI 2022; official `models/transformer.py::Transformer`), single feature level, RCDA attention.
 *
 * Queries: num_query_pattern pattern embeddings x num_query_position anchor points, pattern-major
 * (query p*Np + i = pattern p at anchor i). Anchor points are learned (`position` [Np, 2], U(0,1) init,
 * used directly as normalised (x, y), not through a sigmoid) or a fixed grid. The anchors are NOT refined
 * between decoder layers. Every decoder layer predicts with the shared heads (`class_embed`, `bbox_embed`
 * listed once per layer, one module, as upstream's ModuleList of the same module):
 *   logits = class_embed(h_l);  boxes = sigmoid(bbox_embed(h_l) + [inverse_sigmoid(r), 0, 0])  (eps 1e-5)
 *
 * Deviations, none at the official sizes (d_model 256): the sine embeddings use d_model / 2 features per
 * axis (upstream: 128) and d_model for the 1-d ones (upstream: 256), so small models are consistent; the
 * class count is an option (upstream hard-codes 91 COCO category ids).
 */
import * as tf from '@tensorflow/tfjs';
import { Embedding, Linear, MLP, Module, ModuleList, constant_, inverseSigmoid, uniform_ } from '@detr/core';
import { register } from '@detr/registry';
import { gridAnchorPoints, maskToPositions, posEmbed1d } from './anchor_positions';
import { checkKnownOptions, positiveInt, probability } from './options';
import { PositionAdapter } from './position_adapter';
import { RCDADecoderLayer } from './rcda_decoder_layer';
import { RCDAEncoderLayer } from './rcda_encoder_layer';

export interface AnchorDETRTransformerOptions {
  /** Number of classes of class_embed (upstream: 91, the COCO category-id range). */
  num_classes?: number;
  d_model?: number;
  nhead?: number;
  num_encoder_layers?: number;
  num_decoder_layers?: number;
  dim_feedforward?: number;
  dropout?: number;
  /** Only 'relu' (upstream builds with "relu"). */
  activation?: 'relu';
  /** Only 1 (the official multi-level variant, with level attention and level_fc, is not implemented). */
  num_feature_levels?: number;
  num_query_position?: number;
  num_query_pattern?: number;
  /** 'learned' anchor points (default) or a fixed 'grid' of round(sqrt(num_query_position))^2 points. */
  spatial_prior?: 'learned' | 'grid';
  /** Only 'RCDA' (the nn.MultiheadAttention ablation is not implemented). */
  attention_type?: 'RCDA';
}

const KEYS = [
  'num_classes',
  'd_model',
  'nhead',
  'num_encoder_layers',
  'num_decoder_layers',
  'dim_feedforward',
  'dropout',
  'activation',
  'num_feature_levels',
  'num_query_position',
  'num_query_pattern',
  'spatial_prior',
  'attention_type',
];

export type AnchorDETRTransformerOutput = {
  /** Per decoder layer [B, P*Np, classes]. */
  logits: tf.Tensor[];
  /** Per decoder layer [B, P*Np, 4] normalised cxcywh. */
  boxes: tf.Tensor[];
};

@register('transformer', 'anchor_detr')
export class AnchorDETRTransformer extends Module {
  readonly dModel: number;
  readonly numClasses: number;
  readonly numPattern: number;
  readonly numPosition: number;
  readonly spatialPrior: 'learned' | 'grid';
  readonly encoder_layers: ModuleList<RCDAEncoderLayer>;
  readonly decoder_layers: ModuleList<RCDADecoderLayer>;
  readonly pattern: Embedding;
  readonly position: Embedding | null;
  readonly adapt_pos2d: PositionAdapter;
  readonly adapt_pos1d: PositionAdapter;
  /** The shared heads (also listed num_decoder_layers times under `class_embed.{i}` / `bbox_embed.{i}`). */
  readonly classHead: Linear;
  readonly boxHead: MLP;
  private readonly gridPoints: Float32Array | null;

  constructor(opts: AnchorDETRTransformerOptions = {}) {
    super();
    const where = 'AnchorDETRTransformer';
    checkKnownOptions(opts, KEYS, where);
    const d = positiveInt(opts.d_model ?? 256, 'd_model', where);
    if (d % 4 !== 0) throw new Error(`${where}: d_model must be a multiple of 4 (sine features), got ${d}`);
    const nhead = positiveInt(opts.nhead ?? 8, 'nhead', where);
    const dropout = probability(opts.dropout ?? 0, 'dropout', where);
    const dFfn = positiveInt(opts.dim_feedforward ?? 1024, 'dim_feedforward', where);
    if ((opts.activation ?? 'relu') !== 'relu') throw new Error(`${where}: activation must be 'relu' (upstream builds the transformer with relu), got ${JSON.stringify(opts.activation)}`);
    if ((opts.num_feature_levels ?? 1) !== 1) throw new Error(`${where}: num_feature_levels must be 1 (the optional multi-level Anchor DETR is not implemented)`);
    if ((opts.attention_type ?? 'RCDA') !== 'RCDA') throw new Error(`${where}: attention_type must be 'RCDA' (the nn.MultiheadAttention ablation is not implemented)`);
    const spatialPrior = opts.spatial_prior ?? 'learned';
    if (spatialPrior !== 'learned' && spatialPrior !== 'grid') throw new Error(`${where}: spatial_prior must be 'learned' or 'grid', got ${JSON.stringify(spatialPrior)}`);
    this.dModel = d;
    this.numClasses = positiveInt(opts.num_classes ?? 91, 'num_classes', where);
    this.numPattern = positiveInt(opts.num_query_pattern ?? 3, 'num_query_pattern', where);
    this.spatialPrior = spatialPrior;
    const numPosition = positiveInt(opts.num_query_position ?? 300, 'num_query_position', where);
    if (spatialPrior === 'grid') {
      const grid = gridAnchorPoints(numPosition);
      this.gridPoints = grid.points;
      this.numPosition = grid.count;
    } else {
      this.gridPoints = null;
      this.numPosition = numPosition;
    }
    const numEnc = positiveInt(opts.num_encoder_layers ?? 6, 'num_encoder_layers', where);
    const numDec = positiveInt(opts.num_decoder_layers ?? 6, 'num_decoder_layers', where);
    // Registration order = upstream attribute order (its state-dict order).
    this.encoder_layers = this.registerModule('encoder_layers', new ModuleList(Array.from({ length: numEnc }, () => new RCDAEncoderLayer(d, dFfn, dropout, nhead))));
    this.decoder_layers = this.registerModule('decoder_layers', new ModuleList(Array.from({ length: numDec }, () => new RCDADecoderLayer(d, dFfn, dropout, nhead))));
    this.pattern = this.registerModule('pattern', new Embedding(this.numPattern, d));
    this.position = this.registerModule('position', spatialPrior === 'learned' ? new Embedding(this.numPosition, 2) : null);
    this.adapt_pos2d = this.registerModule('adapt_pos2d', new PositionAdapter(d));
    this.adapt_pos1d = this.registerModule('adapt_pos1d', new PositionAdapter(d));
    this.classHead = new Linear(d, this.numClasses);
    this.boxHead = new MLP(d, d, 4, 3);
    this.registerModule('class_embed', new ModuleList(Array.from({ length: numDec }, () => this.classHead)));
    this.registerModule('bbox_embed', new ModuleList(Array.from({ length: numDec }, () => this.boxHead)));
    this.resetParameters();
  }

  /** Upstream `_reset_parameters`: focal prior on the class bias, zero last box layer with bias[2:] = -2, U(0,1) anchors. */
  resetParameters(): void {
    const priorProb = 0.01;
    constant_(this.classHead.getParameter('bias'), -Math.log((1 - priorProb) / priorProb));
    const last = this.boxHead.layers.at(-1);
    constant_(last.getParameter('weight'), 0);
    tf.tidy(() => last.getParameter('bias').variable.assign(tf.tensor1d([0, 0, -2, -2])));
    if (this.position) uniform_(this.position.getParameter('weight'), 0, 1);
  }

  /** Anchor points [Np, 2] (x, y): the learned embedding or the fixed grid. */
  anchorPoints(): tf.Tensor2D {
    if (this.position) return this.position.weight as tf.Tensor2D;
    return tf.tensor2d(this.gridPoints as Float32Array, [this.numPosition, 2]);
  }

  /** src [B,H,W,C] (projected features), mask [B,H,W] bool (true = padding) -> per-layer predictions. */
  forward(src: tf.Tensor4D, mask: tf.Tensor3D): AnchorDETRTransformerOutput {
    const where = 'AnchorDETRTransformer';
    const [b, h, w, c] = src.shape;
    if (src.rank !== 4 || c !== this.dModel) throw new Error(`${where}: src must be [B, H, W, ${this.dModel}], got [${src.shape}]`);
    if (mask.rank !== 3 || mask.shape[0] !== b || mask.shape[1] !== h || mask.shape[2] !== w) {
      throw new Error(`${where}: mask must be [${b}, ${h}, ${w}], got [${mask.shape}]`);
    }
    return tf.tidy(() => {
      const p = this.numPattern;
      const np = this.numPosition;
      const anchors = this.anchorPoints(); // [Np,2]
      const referencePoints = tf.tile(anchors.reshape([1, np, 2]), [b, p, 1]); // [B, P*Np, 2], pattern-major
      const tgt = tf.broadcastTo(this.pattern.weight.reshape([1, p, 1, c]), [b, p, np, c]).reshape([b, p * np, c]); // [B, P*Np, C]
      const boolMask = mask.cast('bool') as tf.Tensor3D;
      const { posRow, posCol } = maskToPositions(boolMask);
      const pos = {
        posemb_row: this.adapt_pos1d.forward(posEmbed1d(posRow, c)), // [B,W,C]
        posemb_col: this.adapt_pos1d.forward(posEmbed1d(posCol, c)), // [B,H,C]
      };
      let memory = src;
      for (const layer of this.encoder_layers) memory = layer.forward(memory, boolMask, pos);
      const inverseRef = inverseSigmoid(referencePoints, 1e-5); // [B, P*Np, 2]
      const logits: tf.Tensor[] = [];
      const boxes: tf.Tensor[] = [];
      let output: tf.Tensor = tgt;
      for (const layer of this.decoder_layers) {
        output = layer.forward(output, {
          ...pos,
          reference_points: referencePoints,
          memory,
          mask: boolMask,
          adapt_pos2d: this.adapt_pos2d,
          adapt_pos1d: this.adapt_pos1d,
        });
        logits.push(this.classHead.forward(output));
        const tmp = this.boxHead.forward(output); // [B, P*Np, 4]
        const [xy, wh] = tf.split(tmp, [2, 2], -1);
        boxes.push(tf.sigmoid(tf.concat([xy.add(inverseRef), wh], -1)));
      }
      return { logits, boxes };
    });
  }
}
