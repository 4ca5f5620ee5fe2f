/**
 * DAB-DETR's decoder (detrex `projects/dab_detr/modeling/dab_transformer.py::DabDetrTransformerDecoder`).
 * Each layer l, with reference boxes r = sigmoid(anchor) (cx, cy, w, h), refined layer by layer:
 *
 *   sine      = get_sine_pos_embed(r)                       [B,Q,4F]   blocks [y, x, w, h], F = C/2
 *   query_pos = ref_point_head(sine)                        [B,Q,C]    MLP 2C -> C -> C
 *   s         = sine[..., :C] * (l == 0 ? 1 : query_scale(h))          ([y, x] half)
 *   modulate_hw_attn: hw = sigmoid(ref_anchor_head(h)); s[..., F:] *= hw_w / w; s[..., :F] *= hw_h / h
 *   h         = layer(h; conditional self-attn, norm, conditional cross-attn (query_sine_embed = s,
 *               is_first_layer = l == 0), norm, FFN, norm)
 *   r'        = sigmoid(bbox_embed(h) + inverse_sigmoid(r))  (shared head); next layer gets r' detached
 *
 * It returns, per layer, post_norm_layer(h) and the layer's INPUT reference (the detector adds its own
 * bbox_embed offsets to it); the refs after layer 0.. are not detached there, as in detrex.
 *
 * Deviation, same numbers at detrex's sizes: detrex calls get_sine_pos_embed with its default 128
 * features per coordinate, so its DAB decoder only works at embed_dim 256; here F = embed_dim / 2 (= 128
 * at 256), which keeps the shapes consistent for the small test models.
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, MLP, inverseSigmoid } from '@detr/core';
import { register } from '@detr/registry';
import { FFN, TransformerLayerSequence, getSinePosEmbed, stopGradient } from '@detr/transformers';
import { ConditionalCrossAttention, ConditionalSelfAttention } from './conditional_attention_parts';
import { ConditionalTransformerLayer } from './conditional_decoder_layer';
import { type ActivationOption, checkKnownOptions, ffnActivation, positiveInt, probability } from './options';

export interface DabDetrTransformerDecoderOptions {
  embed_dim?: number;
  num_heads?: number;
  attn_dropout?: number;
  feedforward_dim?: number;
  ffn_dropout?: number;
  activation?: ActivationOption;
  num_layers?: number;
  modulate_hw_attn?: boolean;
  /** Final LayerNorm applied to every returned state (detrex default true). */
  post_norm?: boolean;
  /** Must be true: the detector needs every layer's output (detrex's DABDETR fails without it too). */
  return_intermediate?: boolean;
  /** Accepted for config compatibility; tensors here are always batch-first [B, N, C]. */
  batch_first?: boolean;
}

const KEYS = ['embed_dim', 'num_heads', 'attn_dropout', 'feedforward_dim', 'ffn_dropout', 'activation', 'num_layers', 'modulate_hw_attn', 'post_norm', 'return_intermediate', 'batch_first'];

export interface DabDetrDecoderArgs {
  /** Encoder memory [B,S,C]: key and value of the cross-attention. */
  memory: tf.Tensor;
  /** [B,S,C] position embedding of the memory tokens. */
  key_pos: tf.Tensor;
  /** [B,Q,4] anchor boxes in logit space (sigmoid gives normalised cxcywh). */
  anchor_box_embed: tf.Tensor;
  /** [B,S] bool padding mask of the memory; detrex's DAB transformer passes none (null). */
  key_padding_mask?: tf.Tensor | null;
}

export type DabDetrDecoderOutput = {
  /** Per layer [B,Q,C]: post_norm_layer(output) (the raw output without post_norm). */
  states: tf.Tensor[];
  /** Per layer [B,Q,4]: the reference boxes the layer started from (normalised cxcywh). */
  references: tf.Tensor[];
};

/** What one decoder layer hands on: its output, its (normed) state and, but for the last, the refined boxes. */
interface LayerStep {
  [key: string]: tf.Tensor | undefined;
  out: tf.Tensor;
  state: tf.Tensor;
  refined?: tf.Tensor;
  next?: tf.Tensor;
}

@register('decoder', 'dab_detr')
export class DabDetrTransformerDecoder extends TransformerLayerSequence {
  readonly embedDim: number;
  readonly modulateHwAttn: boolean;
  readonly query_scale: MLP;
  readonly ref_point_head: MLP;
  readonly ref_anchor_head: MLP | null;
  readonly post_norm_layer: LayerNorm | null;
  /** The detector's shared box head (detrex: `transformer.decoder.bbox_embed = self.bbox_embed`). */
  bbox_embed: MLP | null = null;

  constructor(opts: DabDetrTransformerDecoderOptions = {}) {
    const where = 'DabDetrTransformerDecoder';
    checkKnownOptions(opts, KEYS, where);
    const embedDim = positiveInt(opts.embed_dim ?? 256, 'embed_dim', where);
    const numHeads = positiveInt(opts.num_heads ?? 8, 'num_heads', where);
    const numLayers = positiveInt(opts.num_layers ?? 6, 'num_layers', where);
    const attnDrop = probability(opts.attn_dropout ?? 0, 'attn_dropout', where);
    const ffnDrop = probability(opts.ffn_dropout ?? 0, 'ffn_dropout', where);
    const feedforwardDim = positiveInt(opts.feedforward_dim ?? 2048, 'feedforward_dim', where);
    const activation = ffnActivation(opts.activation, where);
    if (embedDim % 4 !== 0) throw new Error(`${where}: embed_dim must be a multiple of 4 (sine features per coordinate = embed_dim / 2, even), got ${embedDim}`);
    if (opts.return_intermediate === false) throw new Error(`${where}: return_intermediate=false is not supported (DAB-DETR needs every layer's output and reference)`);
    const attn = { embed_dim: embedDim, num_heads: numHeads, attn_drop: attnDrop, batch_first: true };
    super({
      // detrex builds one layer, deep-copies it, then sets attentions[1].query_pos_proj = None for layers >= 1.
      transformer_layers: Array.from(
        { length: numLayers },
        (_, i) =>
          new ConditionalTransformerLayer({
            attn: [new ConditionalSelfAttention(attn), new ConditionalCrossAttention({ ...attn, query_pos_proj: i === 0 })],
            ffn: () => new FFN({ embed_dim: embedDim, feedforward_dim: feedforwardDim, ffn_drop: ffnDrop, activation }),
            norm: () => new LayerNorm(embedDim),
            operation_order: ['self_attn', 'norm', 'cross_attn', 'norm', 'ffn', 'norm'],
          }),
      ),
      num_layers: numLayers,
    });
    this.embedDim = embedDim;
    this.query_scale = this.registerModule('query_scale', new MLP(embedDim, embedDim, embedDim, 2));
    this.ref_point_head = this.registerModule('ref_point_head', new MLP(2 * embedDim, embedDim, embedDim, 2));
    this.modulateHwAttn = opts.modulate_hw_attn ?? true;
    this.ref_anchor_head = this.registerModule('ref_anchor_head', this.modulateHwAttn ? new MLP(embedDim, embedDim, 2, 2) : null);
    this.post_norm_layer = this.registerModule('post_norm_layer', opts.post_norm ?? true ? new LayerNorm(embedDim) : null);
  }

  /** Attach the detector's shared box head; it then also appears as `bbox_embed.*` under the decoder. */
  setBoxEmbed(bboxEmbed: MLP): void {
    this.bbox_embed = this.registerModule('bbox_embed', bboxEmbed);
  }

  /** query [B,Q,C] (content queries: zeros or patterns) -> per-layer states and input references. */
  forward(query: tf.Tensor, args: DabDetrDecoderArgs): DabDetrDecoderOutput {
    const where = 'DabDetrTransformerDecoder';
    const bboxEmbed = this.bbox_embed;
    if (!bboxEmbed) throw new Error(`${where}: no bbox_embed attached (the detector calls setBoxEmbed)`);
    const [b, q, c] = query.shape as [number, number, number];
    if (query.rank !== 3 || c !== this.embedDim) throw new Error(`${where}: query must be [B, Q, ${this.embedDim}], got [${query.shape}]`);
    const anchors = args.anchor_box_embed;
    if (anchors.rank !== 3 || anchors.shape[0] !== b || anchors.shape[1] !== q || anchors.shape[2] !== 4) {
      throw new Error(`${where}: anchor_box_embed must be [${b}, ${q}, 4], got [${anchors.shape}]`);
    }
    const f = c / 2; // sine features per coordinate
    return tf.tidy(() => {
      const states: tf.Tensor[] = [];
      let output = query;
      let reference = tf.sigmoid(anchors); // [B,Q,4]
      const references: tf.Tensor[] = [reference];
      (this.layers.toArray() as ConditionalTransformerLayer[]).forEach((layer, idx) => {
        // One tidy per layer frees its temporaries; what it returns lives until the outer tidy ends.
        const step = tf.tidy((): LayerStep => {
          const sine = getSinePosEmbed(reference, { num_pos_feats: f }); // [B,Q,4F] = [y, x, w, h]
          const queryPos = this.ref_point_head.forward(sine); // [B,Q,C]
          let sineYX = sine.slice([0, 0, 0], [b, q, c]); // [B,Q,C] = [y (F), x (F)]
          if (idx > 0) sineYX = sineYX.mul(this.query_scale.forward(output));
          if (this.ref_anchor_head) {
            const refHW = tf.sigmoid(this.ref_anchor_head.forward(output)); // [B,Q,2] (w, h)
            const [, , w, h] = tf.split(reference, 4, -1); // 4 x [B,Q,1]
            const [hwW, hwH] = tf.split(refHW, 2, -1);
            const [sy, sx] = tf.split(sineYX, 2, -1); // 2 x [B,Q,F]
            sineYX = tf.concat([sy.mul(hwH.div(h)), sx.mul(hwW.div(w))], -1);
          }
          const out = layer.forward(output, {
            key: args.memory,
            value: args.memory,
            query_pos: queryPos,
            key_pos: args.key_pos,
            key_padding_mask: args.key_padding_mask ?? null,
            query_sine_embed: sineYX,
            is_first_layer: idx === 0,
          });
          const state = this.post_norm_layer ? this.post_norm_layer.forward(out) : out;
          // The last layer's refinement is unused upstream too (not returned, nothing follows).
          if (idx === this.numLayers - 1) return { out, state };
          const refined = tf.sigmoid(bboxEmbed.forward(out).add(inverseSigmoid(reference))); // [B,Q,4]
          return { out, state, refined, next: stopGradient(refined) };
        });
        output = step.out;
        states.push(step.state);
        if (step.refined && step.next) {
          references.push(step.refined); // not detached: the next prediction's loss reaches this layer's offsets
          reference = step.next;
        }
      });
      return { states, references };
    });
  }
}
