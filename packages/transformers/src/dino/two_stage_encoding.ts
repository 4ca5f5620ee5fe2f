/**
 * The encoder half of the two-stage deformable transformers (Deformable DETR two-stage, DINO,
 * H-Deformable-DETR; detrex `projects/dino/modeling/dino_transformer.py::DINOTransformer.forward` and
 * `projects/h_deformable_detr/modeling/h_deformable_transformer.py`): flatten the levels with their
 * position + level embeddings, run the encoder, then score every encoder token as a proposal with the
 * encoder's class / box heads.
 */
import * as tf from '@tensorflow/tfjs';
import type { Module } from '@detr/core';
import { getValidRatios } from '../masks';
import { levelStartIndex, type SpatialShapes } from '../ms_deform_attn_core';
import { genEncoderOutputProposals } from './encoder_proposals';
import { encoderReferencePoints } from './reference_points';

/** What the deformable encoders take (DINOTransformerEncoder, HDeformableDetrTransformerEncoder). */
export interface DeformableEncoderLike {
  forward(
    query: tf.Tensor,
    args: { query_pos: tf.Tensor; query_key_padding_mask: tf.Tensor; reference_points: tf.Tensor; spatial_shapes: SpatialShapes; level_start_index: number[] },
  ): tf.Tensor;
}

export interface EncodedLevels {
  /** [B,S,C] encoder output over all levels, level-major then row-major. */
  memory: tf.Tensor;
  /** [B,S] bool padding mask. */
  maskFlatten: tf.Tensor;
  spatialShapes: SpatialShapes;
  levelStartIndex: number[];
  /** [B,L,2] (w, h) valid fractions. */
  validRatios: tf.Tensor;
}

/**
 * feats L x [B,H,W,C] (NHWC), masks L x [B,H,W] bool, posEmbeds L x [B,H,W,C], levelEmbeds [L,C]: the
 * encoder's memory and what the decoder needs of the flattening. Call inside a tidy.
 */
export function encodeFeatureLevels(encoder: DeformableEncoderLike, levelEmbeds: tf.Tensor, feats: tf.Tensor4D[], masks: tf.Tensor3D[], posEmbeds: tf.Tensor4D[]): EncodedLevels {
  const b = feats[0].shape[0];
  const c = levelEmbeds.shape[1]!;
  const spatialShapes = feats.map((f) => [f.shape[1], f.shape[2]] as [number, number]);
  const featFlatten = tf.concat(feats.map((f) => f.reshape([b, -1, c])), 1); // [B,S,C] level-major, row-major
  const maskFlatten = tf.concat(masks.map((m) => m.reshape([b, -1])), 1).cast('bool'); // [B,S]
  const lvlPosEmbed = tf.concat(
    posEmbeds.map((p, l) => p.reshape([b, -1, c]).add(levelEmbeds.slice([l, 0], [1, c]).reshape([1, 1, c]))),
    1,
  ); // [B,S,C]
  const starts = levelStartIndex(spatialShapes);
  const validRatios = getValidRatios(masks); // [B,L,2]
  const referencePoints = encoderReferencePoints(spatialShapes, validRatios); // [B,S,L,2]
  const memory = encoder.forward(featFlatten, {
    query_pos: lvlPosEmbed,
    query_key_padding_mask: maskFlatten,
    reference_points: referencePoints,
    spatial_shapes: spatialShapes,
    level_start_index: starts,
  }); // [B,S,C]
  return { memory, maskFlatten, spatialShapes, levelStartIndex: starts, validRatios };
}

export interface ScoredEncoderTokens {
  /** [B,S,C] enc_output_norm(enc_output(masked memory)): the encoder heads' input. */
  outputMemory: tf.Tensor;
  /** [B,S,classes] encoder class logits. */
  encOutputsClass: tf.Tensor;
  /** [B,S,4] unactivated boxes: box head + the token's proposal (logit space). */
  encOutputsCoordUnact: tf.Tensor;
  /** [B,S,4] the tokens' proposals in logit space (inf where masked or out of range). */
  outputProposals: tf.Tensor;
}

/** Every encoder token as a proposal, scored by the encoder's class / box heads (the last of the detector's heads). */
export function scoreEncoderTokens(
  encoded: EncodedLevels,
  encOutput: Module & { forward(x: tf.Tensor): tf.Tensor },
  encOutputNorm: Module & { forward(x: tf.Tensor): tf.Tensor },
  classHead: { forward(x: tf.Tensor): tf.Tensor },
  boxHead: { forward(x: tf.Tensor): tf.Tensor },
): ScoredEncoderTokens {
  const { maskedMemory, outputProposals } = genEncoderOutputProposals(encoded.memory, encoded.maskFlatten, encoded.spatialShapes);
  const outputMemory = encOutputNorm.forward(encOutput.forward(maskedMemory)); // [B,S,C]
  const encOutputsClass = classHead.forward(outputMemory); // [B,S,classes]
  const encOutputsCoordUnact = boxHead.forward(outputMemory).add(outputProposals); // [B,S,4]
  return { outputMemory, encOutputsClass, encOutputsCoordUnact, outputProposals };
}
