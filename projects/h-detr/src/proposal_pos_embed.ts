/**
 * H-DETR's sine embedding of the selected proposals (detrex
 * `projects/h_deformable_detr/modeling/h_deformable_transformer.py::HDeformableDetrTransformer.get_proposal_pos_embed`):
 * proposals [B,K,4] box logits -> sigmoid * 2pi / dim_t, dim_t = temperature^(2 floor(i/2) / F), each
 * coordinate interleaved sin/cos, blocks in the proposal's own order (cx, cy, w, h), so NOT DINO's
 * [y, x, w, h] order. Upstream hard-codes F = 128 (= embed_dim / 2 at embed_dim 256).
 */
import * as tf from '@tensorflow/tfjs';
import { getSinePosEmbed } from '@detr/transformers';

export interface ProposalPosEmbedOptions {
  /** Features per coordinate (upstream 128); the output has 4 * num_pos_feats channels. */
  num_pos_feats?: number;
  temperature?: number;
}

/** proposals [B,K,4] (unactivated cxcywh logits) -> [B,K,4*num_pos_feats]. */
export function getProposalPosEmbed(proposals: tf.Tensor, opts: ProposalPosEmbedOptions = {}): tf.Tensor {
  if (proposals.rank !== 3 || proposals.shape[2] !== 4) throw new Error(`getProposalPosEmbed: proposals must be [B,K,4] box logits, got [${proposals.shape}]`);
  const numPosFeats = opts.num_pos_feats ?? 128;
  if (!Number.isInteger(numPosFeats) || numPosFeats <= 0 || numPosFeats % 2 !== 0) throw new Error(`getProposalPosEmbed: num_pos_feats must be a positive even integer, got ${numPosFeats}`);
  // detrex get_sine_pos_embed computes x * 2pi / dim_t with the same dim_t and interleaving; without the
  // x/y exchange it is exactly get_proposal_pos_embed of sigmoid(proposals).
  return tf.tidy(() => getSinePosEmbed(tf.sigmoid(proposals), { num_pos_feats: numPosFeats, temperature: opts.temperature ?? 10000, exchange_xy: false }));
}
