/**
 * DINO's transformer (detrex `projects/dino/modeling/dino_transformer.py::DINOTransformer`):
 * flatten the multi-scale features (+ sine position + level embeddings), run the deformable encoder,
 * generate two-stage proposals, select the top-k tokens by their best class logit (mixed query
 * selection: positions from the encoder, content from the learned `tgt_embed`), put the denoising
 * queries in front, and run the decoder.
 */
import * as tf from '@tensorflow/tfjs';
import { Embedding, LayerNorm, Linear, Module, normal_, xavierUniform_ } from '@detr/core';
import { register } from '@detr/registry';
import { MultiScaleDeformableAttention } from '../ms_deform_attn';
import { stopGradient } from '../stop_gradient';
import type { DINOTransformerDecoder } from './dino_decoder';
import type { DINOTransformerEncoder } from './dino_encoder';
import { encodeFeatureLevels, scoreEncoderTokens } from './two_stage_encoding';

export interface DINOTransformerOptions {
  encoder: DINOTransformerEncoder;
  decoder: DINOTransformerDecoder;
  num_feature_levels?: number;
  two_stage_num_proposals?: number;
  learnt_init_query?: boolean;
}

/** Intermediates of one forward, for parity checks (detrex local names); filled only when asked. */
export interface DINOTransformerTrace {
  memory?: tf.Tensor;
  output_memory?: tf.Tensor;
  output_proposals?: tf.Tensor;
  enc_outputs_class?: tf.Tensor;
  /** [B, K] int32, descending score order. */
  topk_proposals?: tf.Tensor;
}

export interface DINOTransformerOutput {
  /** Per decoder layer [B, pad+K, C] (after the decoder's final norm). */
  inter_states: tf.Tensor[];
  /** [B, pad+K, 4] the decoder's input references (DN boxes then sigmoid of the top-k proposals). */
  init_reference: tf.Tensor;
  /** Per decoder layer [B, pad+K, 4]. */
  inter_references: tf.Tensor[];
  /** [B, K, C] gathered output_memory of the selected tokens (encoder head input). */
  enc_state: tf.Tensor;
  /** [B, K, 4] sigmoid of the selected proposals (not detached: the encoder loss trains through it). */
  enc_reference: tf.Tensor;
}

@register('transformer', 'dino')
export class DINOTransformer extends Module {
  readonly encoder: DINOTransformerEncoder;
  readonly decoder: DINOTransformerDecoder;
  readonly numFeatureLevels: number;
  readonly twoStageNumProposals: number;
  readonly learntInitQuery: boolean;
  readonly embedDim: number;
  readonly level_embeds: tf.Variable;
  readonly tgt_embed: Embedding | null;
  readonly enc_output: Linear;
  readonly enc_output_norm: LayerNorm;

  constructor(opts: DINOTransformerOptions) {
    super();
    this.encoder = this.registerModule('encoder', opts.encoder);
    this.decoder = this.registerModule('decoder', opts.decoder);
    this.numFeatureLevels = opts.num_feature_levels ?? 4;
    this.twoStageNumProposals = opts.two_stage_num_proposals ?? 900;
    this.learntInitQuery = opts.learnt_init_query ?? true;
    this.embedDim = this.encoder.embedDim;
    if (this.decoder.embedDim !== this.embedDim) throw new Error(`DINOTransformer: encoder embed_dim ${this.embedDim} != decoder embed_dim ${this.decoder.embedDim}`);
    this.level_embeds = this.registerParameter('level_embeds', tf.zeros([this.numFeatureLevels, this.embedDim]));
    this.tgt_embed = this.learntInitQuery ? this.registerModule('tgt_embed', new Embedding(this.twoStageNumProposals, this.embedDim)) : null;
    this.enc_output = this.registerModule('enc_output', new Linear(this.embedDim, this.embedDim));
    this.enc_output_norm = this.registerModule('enc_output_norm', new LayerNorm(this.embedDim));
    this.initWeights();
  }

  /** detrex `init_weights`: xavier-uniform on every parameter with dim > 1, MSDeformAttn's own init, normal level_embeds. */
  initWeights(): void {
    for (const [, p] of this.namedParameters()) if (p.shape.length > 1) xavierUniform_(p);
    for (const [, m] of this.namedModules()) if (m instanceof MultiScaleDeformableAttention) m.initWeights();
    normal_(this.getParameter('level_embeds'));
  }

  /**
   * feats L x [B,H,W,C] (NHWC), masks L x [B,H,W] bool, posEmbeds L x [B,H,W,C];
   * queryEmbed = [DN content [B,pad,C] | null, DN box logits [B,pad,4] | null];
   * attnMasks = [decoder self-attention mask [pad+K, pad+K] | null, null].
   */
  forward(
    feats: tf.Tensor4D[],
    masks: tf.Tensor3D[],
    posEmbeds: tf.Tensor4D[],
    queryEmbed: [tf.Tensor | null, tf.Tensor | null] = [null, null],
    attnMasks: (tf.Tensor | null)[] | null = null,
    trace?: DINOTransformerTrace,
  ): DINOTransformerOutput {
    if (feats.length !== this.numFeatureLevels || masks.length !== feats.length || posEmbeds.length !== feats.length) {
      throw new Error(`DINOTransformer: expected ${this.numFeatureLevels} levels of features, masks and position embeddings; got ${feats.length}, ${masks.length}, ${posEmbeds.length}`);
    }
    const decoder = this.decoder;
    if (!decoder.class_embed || !decoder.bbox_embed) throw new Error('DINOTransformer: the decoder has no class_embed / bbox_embed heads (call decoder.setPredictionHeads)');
    const classEmbed = decoder.class_embed;
    const bboxEmbed = decoder.bbox_embed;
    return tf.tidy(() => {
      const b = feats[0].shape[0];
      const encoded = encodeFeatureLevels(this.encoder, this.level_embeds, feats, masks, posEmbeds);
      const { memory, maskFlatten, spatialShapes, levelStartIndex: starts, validRatios } = encoded;
      const nEnc = decoder.numLayers; // the encoder head comes after the decoder layers' heads
      const { outputMemory, encOutputsClass, encOutputsCoordUnact, outputProposals } = scoreEncoderTokens(encoded, this.enc_output, this.enc_output_norm, classEmbed.at(nEnc), bboxEmbed.at(nEnc));

      const s = memory.shape[1]!;
      const k = this.twoStageNumProposals;
      if (k > s) throw new Error(`DINOTransformer: two_stage_num_proposals ${k} exceeds the ${s} encoder tokens`);
      // Indices are taken off the tape (tfjs would otherwise try to back-propagate an int32 gradient into TopK).
      const topk = tf.topk(stopGradient(encOutputsClass.max(-1)), k, true).indices; // [B,K] descending
      const flatIdx = topk.add(tf.range(0, b * s, s, 'int32').reshape([b, 1])).reshape([-1]); // rows of [B*S, .]
      const topkCoordsUnact = tf.gather(encOutputsCoordUnact.reshape([b * s, 4]), flatIdx).reshape([b, k, 4]);
      let reference = tf.sigmoid(stopGradient(topkCoordsUnact)); // [B,K,4]
      if (queryEmbed[1]) reference = tf.concat([tf.sigmoid(queryEmbed[1]), reference], 1);
      const targetUnact = tf.gather(outputMemory.reshape([b * s, this.embedDim]), flatIdx).reshape([b, k, this.embedDim]);
      // tgt_embed.weight repeated over the batch as a broadcast product (wasm's Tile, behind broadcastTo, is slow).
      let target = this.tgt_embed ? tf.ones([b, 1, 1]).mul(this.tgt_embed.weight.expandDims(0)) : stopGradient(targetUnact); // [B,K,C]
      if (queryEmbed[0]) target = tf.concat([queryEmbed[0], target], 1);

      const { states, references } = decoder.forward(target, {
        memory,
        key_padding_mask: maskFlatten,
        reference_points: reference,
        spatial_shapes: spatialShapes,
        level_start_index: starts,
        valid_ratios: validRatios,
        attn_masks: attnMasks,
      });
      if (trace) {
        trace.memory = tf.keep(memory);
        trace.output_memory = tf.keep(outputMemory);
        trace.output_proposals = tf.keep(outputProposals);
        trace.enc_outputs_class = tf.keep(encOutputsClass);
        trace.topk_proposals = tf.keep(topk);
      }
      return {
        inter_states: states,
        init_reference: reference,
        inter_references: references,
        enc_state: targetUnact,
        enc_reference: tf.sigmoid(topkCoordsUnact),
      };
    });
  }
}
