/**
 * H-DETR's transformer (detrex `projects/h_deformable_detr/modeling/h_deformable_transformer.py::
 * HDeformableDetrTransformer`), two-stage: flatten the levels (+ sine position + level embeddings), run
 * the deformable encoder, make one proposal per encoder token (as DINO), score every token with the
 * encoder heads (`decoder.class_embed[L]`, `decoder.bbox_embed[L]`), keep the top-k tokens by the logit
 * of class 0 (the encoder head is trained class-agnostically), and start the decoder from them:
 * reference = sigmoid(top-k box logits, detached), query_pos = first half of
 * pos_trans_norm(pos_trans(get_proposal_pos_embed(top-k box logits))), content = the learned query
 * embedding (mixed selection) or the second half of that projection.
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, Linear, Module, normal_, xavierUniform_ } from '@detr/core';
import { register } from '@detr/registry';
import { MultiScaleDeformableAttention, encodeFeatureLevels, scoreEncoderTokens, stopGradient } from '@detr/transformers';
import type { HDeformableDetrTransformerDecoder } from './h_deformable_decoder';
import type { HDeformableDetrTransformerEncoder } from './h_deformable_encoder';
import { getProposalPosEmbed } from './proposal_pos_embed';

export interface HDeformableDetrTransformerOptions {
  encoder: HDeformableDetrTransformerEncoder;
  decoder: HDeformableDetrTransformerDecoder;
  num_feature_levels?: number;
  /** Only the two-stage variant is implemented (true); detrex's default is false. */
  as_two_stage?: boolean;
  /** Proposals kept in training (H-DETR R50: 1800 = one-to-one + one-to-many queries). */
  two_stage_num_proposals?: number;
  mixed_selection?: boolean;
}

/** Intermediates of one forward (detrex local names); filled only when a trace object is passed. */
export interface HDeformableDetrTransformerTrace {
  memory?: tf.Tensor;
  output_memory?: tf.Tensor;
  output_proposals?: tf.Tensor;
  /** [B, K] int32, descending class-0 score. */
  topk_proposals?: tf.Tensor;
  /** [B, K, 4] the selected box logits (detached). */
  topk_coords_unact?: tf.Tensor;
  /** [B, K, C] the decoder's query_pos (the same for every layer). */
  query_pos?: tf.Tensor;
}

export interface HDeformableDetrTransformerOutput {
  /** Per decoder layer [B,K,C] (no final norm). */
  inter_states: tf.Tensor[];
  /** [B,K,4] sigmoid of the detached top-k proposals. */
  init_reference: tf.Tensor;
  /** Per decoder layer [B,K,4] refined boxes. */
  inter_references: tf.Tensor[];
  /** [B,S,num_classes] encoder head logits of every token. */
  enc_outputs_class: tf.Tensor;
  /** [B,S,4] encoder box logits of every token (+inf where the proposal is padded / invalid). */
  enc_outputs_coord_unact: tf.Tensor;
}

@register('transformer', 'h_deformable_detr')
export class HDeformableDetrTransformer extends Module {
  readonly encoder: HDeformableDetrTransformerEncoder;
  readonly decoder: HDeformableDetrTransformerDecoder;
  readonly numFeatureLevels: number;
  readonly asTwoStage: boolean;
  readonly twoStageNumProposals: number;
  readonly mixedSelection: boolean;
  readonly embedDim: number;
  readonly level_embeds: tf.Variable;
  readonly enc_output: Linear;
  readonly enc_output_norm: LayerNorm;
  readonly pos_trans: Linear;
  readonly pos_trans_norm: LayerNorm;

  constructor(opts: HDeformableDetrTransformerOptions) {
    super();
    if (!opts?.encoder || !opts.decoder) throw new Error('HDeformableDetrTransformer: options encoder and decoder are required');
    this.asTwoStage = opts.as_two_stage ?? false;
    if (!this.asTwoStage) {
      throw new Error('HDeformableDetrTransformer: as_two_stage=false (learned reference_points, the h_deformable_detr_r50_50ep variant) is not implemented; set as_two_stage=true');
    }
    this.numFeatureLevels = opts.num_feature_levels ?? 4;
    this.twoStageNumProposals = opts.two_stage_num_proposals ?? 300;
    if (!Number.isInteger(this.twoStageNumProposals) || this.twoStageNumProposals < 1) {
      throw new Error(`HDeformableDetrTransformer: two_stage_num_proposals must be a positive integer, got ${opts.two_stage_num_proposals}`);
    }
    this.mixedSelection = opts.mixed_selection ?? true;
    // Registration order = detrex's state_dict order: level_embeds, encoder, decoder, enc_output, ...
    this.encoder = this.registerModule('encoder', opts.encoder);
    this.decoder = this.registerModule('decoder', opts.decoder);
    this.embedDim = this.encoder.embedDim;
    if (this.decoder.embedDim !== this.embedDim) throw new Error(`HDeformableDetrTransformer: encoder embed_dim ${this.embedDim} != decoder embed_dim ${this.decoder.embedDim}`);
    if (this.embedDim % 2 !== 0) throw new Error(`HDeformableDetrTransformer: embed_dim must be even (proposal sine embedding), got ${this.embedDim}`);
    const c = this.embedDim;
    this.level_embeds = this.registerParameter('level_embeds', tf.zeros([this.numFeatureLevels, c]));
    this.enc_output = this.registerModule('enc_output', new Linear(c, c));
    this.enc_output_norm = this.registerModule('enc_output_norm', new LayerNorm(c));
    this.pos_trans = this.registerModule('pos_trans', new Linear(2 * c, 2 * c));
    this.pos_trans_norm = this.registerModule('pos_trans_norm', new LayerNorm(2 * c));
    this.initWeights();
  }

  /** detrex `init_weights`: xavier-uniform on every parameter with dim > 1, MSDeformAttn's own init, normal level_embeds. */
  initWeights(): void {
    for (const [, p] of this.namedParameters()) if (p.shape.length > 1) xavierUniform_(p);
    for (const [, m] of this.namedModules()) if (m instanceof MultiScaleDeformableAttention) m.initWeights();
    normal_(this.getParameter('level_embeds'));
  }

  /**
   * feats L x [B,H,W,C] (NHWC), masks L x [B,H,W] bool, posEmbeds L x [B,H,W,C]; queryEmbed [K,C] the
   * learned content queries (mixed selection; null otherwise); selfAttnMask [K,K] bool | null;
   * numProposals K (default two_stage_num_proposals; the detector passes the one-to-one count at
   * inference, as detrex switches `two_stage_num_proposals`).
   */
  forward(
    feats: tf.Tensor4D[],
    masks: tf.Tensor3D[],
    posEmbeds: tf.Tensor4D[],
    queryEmbed: tf.Tensor | null,
    selfAttnMask: tf.Tensor | null,
    opts: { numProposals?: number; trace?: HDeformableDetrTransformerTrace } = {},
  ): HDeformableDetrTransformerOutput {
    if (feats.length !== this.numFeatureLevels || masks.length !== feats.length || posEmbeds.length !== feats.length) {
      throw new Error(`HDeformableDetrTransformer: expected ${this.numFeatureLevels} levels of features, masks and position embeddings; got ${feats.length}, ${masks.length}, ${posEmbeds.length}`);
    }
    const decoder = this.decoder;
    if (!decoder.class_embed || !decoder.bbox_embed) throw new Error('HDeformableDetrTransformer: the decoder has no class_embed / bbox_embed heads (call decoder.setPredictionHeads)');
    const classEmbed = decoder.class_embed;
    const bboxEmbed = decoder.bbox_embed;
    const k = opts.numProposals ?? this.twoStageNumProposals;
    const c = this.embedDim;
    if (this.mixedSelection) {
      if (!queryEmbed || queryEmbed.rank !== 2 || queryEmbed.shape[0] !== k || queryEmbed.shape[1] !== c) {
        throw new Error(`HDeformableDetrTransformer: mixed_selection needs query_embed [${k}, ${c}] (one per proposal), got ${queryEmbed ? `[${queryEmbed.shape}]` : 'null'}`);
      }
    }
    if (selfAttnMask && (selfAttnMask.rank !== 2 || selfAttnMask.shape[0] !== k || selfAttnMask.shape[1] !== k)) {
      throw new Error(`HDeformableDetrTransformer: self_attn_mask must be [${k}, ${k}], got [${selfAttnMask.shape}]`);
    }
    const trace = opts.trace;
    return tf.tidy(() => {
      const b = feats[0].shape[0];
      const encoded = encodeFeatureLevels(this.encoder, this.level_embeds, feats, masks, posEmbeds);
      const { memory, maskFlatten, spatialShapes, levelStartIndex: starts, validRatios } = encoded;
      const nEnc = decoder.numLayers; // the encoder head comes after the decoder layers' heads
      const { outputMemory, encOutputsClass, encOutputsCoordUnact, outputProposals } = scoreEncoderTokens(encoded, this.enc_output, this.enc_output_norm, classEmbed.at(nEnc), bboxEmbed.at(nEnc));

      const s = memory.shape[1]!;
      if (k > s) throw new Error(`HDeformableDetrTransformer: ${k} proposals asked for but the encoder has only ${s} tokens (smaller two_stage_num_proposals or larger images)`);
      // topk(enc_outputs_class[..., 0]): indices are taken off the tape (no int32 gradient into TopK).
      const class0 = stopGradient(encOutputsClass.slice([0, 0, 0], [b, s, 1]).reshape([b, s])); // [B,S]
      const topk = tf.topk(class0, k, true).indices; // [B,K] descending
      const flatIdx = topk.add(tf.range(0, b * s, s, 'int32').reshape([b, 1])).reshape([-1]); // rows of [B*S, .]
      const topkCoordsUnact = stopGradient(tf.gather(encOutputsCoordUnact.reshape([b * s, 4]), flatIdx).reshape([b, k, 4])); // [B,K,4]
      const reference = tf.sigmoid(topkCoordsUnact); // [B,K,4]
      // detrex: 128 sine features per coordinate (= embed_dim / 2 at 256); embed_dim / 2 keeps pos_trans's 2C input at other widths.
      const posTransOut = this.pos_trans_norm.forward(this.pos_trans.forward(getProposalPosEmbed(topkCoordsUnact, { num_pos_feats: c / 2 }))); // [B,K,2C]
      const queryPos = posTransOut.slice([0, 0, 0], [b, k, c]); // [B,K,C]
      const query = this.mixedSelection
        ? tf.broadcastTo(queryEmbed!.expandDims(0), [b, k, c]) // [B,K,C]
        : posTransOut.slice([0, 0, c], [b, k, c]);

      const { states, references } = decoder.forward(query, {
        query_pos: queryPos,
        memory,
        key_padding_mask: maskFlatten,
        reference_points: reference,
        spatial_shapes: spatialShapes,
        level_start_index: starts,
        valid_ratios: validRatios,
        attn_masks: [selfAttnMask, null],
      });
      if (trace) {
        trace.memory = tf.keep(memory);
        trace.output_memory = tf.keep(outputMemory);
        trace.output_proposals = tf.keep(outputProposals);
        trace.topk_proposals = tf.keep(topk);
        trace.topk_coords_unact = tf.keep(topkCoordsUnact);
        trace.query_pos = tf.keep(queryPos);
      }
      return {
        inter_states: states,
        init_reference: reference,
        inter_references: references,
        enc_outputs_class: encOutputsClass,
        enc_outputs_coord_unact: encOutputsCoordUnact,
      };
    });
  }
}
