/**
 * Anchor DETR's encoder layer (official `models/transformer.py::TransformerEncoderLayerSpatial`, RCDA type):
 * every token of the [H, W] map queries the map through row-column decoupled attention, with the row
 * (x) position embedding added for the row part and the column (y) one for the column part:
 *
 *   src2 = RCDA(q_row = src + pos_row, q_col = src + pos_col, k_row = src + pos_row, k_col = src + pos_col,
 *               v = src, key_padding_mask)
 *   src  = ffn(norm1(src + dropout1(src2)))
 *
 * Keys `self_attn.*` (in_proj_weight [5C, C], in_proj_bias, out_proj), `norm1.*`, `ffn.*`.
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, LayerNorm, Module } from '@detr/core';
import { AnchorFFN } from './anchor_ffn';
import { MultiheadRCDA } from './rcda_parts';

export interface RowColumnPositions {
  /** [B, W, C] embedding of each column's x (added along every row). */
  posemb_row: tf.Tensor;
  /** [B, H, C] embedding of each row's y (added along every column). */
  posemb_col: tf.Tensor;
}

export class RCDAEncoderLayer extends Module {
  readonly self_attn: MultiheadRCDA;
  readonly dropout1: Dropout;
  readonly norm1: LayerNorm;
  readonly ffn: AnchorFFN;

  constructor(dModel: number, dFfn: number, dropout: number, numHeads: number) {
    super();
    this.self_attn = this.registerModule('self_attn', new MultiheadRCDA({ embed_dim: dModel, num_heads: numHeads, dropout }));
    this.dropout1 = this.registerModule('dropout1', new Dropout(dropout));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel));
    this.ffn = this.registerModule('ffn', new AnchorFFN(dModel, dFfn, dropout));
  }

  /** src [B,H,W,C], mask [B,H,W] bool -> [B,H,W,C]. */
  forward(src: tf.Tensor4D, mask: tf.Tensor3D, pos: RowColumnPositions): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w, c] = src.shape;
      const withRow = src.add(pos.posemb_row.reshape([b, 1, w, c])); // [B,H,W,C]
      const withCol = src.add(pos.posemb_col.reshape([b, h, 1, c])); // [B,H,W,C]
      const src2 = this.self_attn
        .forward({
          query_row: withRow.reshape([b, h * w, c]), // tokens row-major
          query_col: withCol.reshape([b, h * w, c]),
          key_row: withRow,
          key_col: withCol,
          value: src,
          key_padding_mask: mask,
        })
        .reshape([b, h, w, c]);
      return this.ffn.forward(this.norm1.forward(src.add(this.dropout1.forward(src2)))) as tf.Tensor4D;
    });
  }
}
