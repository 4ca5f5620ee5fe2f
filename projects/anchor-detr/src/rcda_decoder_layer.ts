/**
 * Anchor DETR's decoder layer (official `models/transformer.py::TransformerDecoderLayer`, RCDA type, one
 * feature level). With anchor points r [B,Nq,2] (x, y):
 *
 *   query_pos = adapt_pos2d(pos2posemb2d(r))
 *   tgt  = norm2(tgt + dropout2(self_attn(q = k = tgt + query_pos, v = tgt)))        (nn.MultiheadAttention)
 *   tgt2 = RCDA(q_row = tgt + adapt_pos1d(pos2posemb1d(r.x)), q_col = tgt + adapt_pos1d(pos2posemb1d(r.y)),
 *               k_row = src + pos_row, k_col = src + pos_col, v = src, key_padding_mask)
 *   tgt  = ffn(norm1(tgt + dropout1(tgt2)))
 *
 * Keys in upstream order: `cross_attn.*`, `norm1.*`, `self_attn.{in_proj_weight,in_proj_bias,out_proj}`,
 * `norm2.*`, `ffn.*`. The position adapters are the transformer's (shared by all layers).
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, LayerNorm, Module } from '@detr/core';
import { TorchMultiheadAttention } from '@detr/transformers';
import { AnchorFFN } from './anchor_ffn';
import { posEmbed1d, posEmbed2d } from './anchor_positions';
import type { PositionAdapter } from './position_adapter';
import type { RowColumnPositions } from './rcda_encoder_layer';
import { MultiheadRCDA } from './rcda_parts';

export interface RCDADecoderLayerArgs extends RowColumnPositions {
  /** [B,Nq,2] anchor points (x, y) in [0, 1]. */
  reference_points: tf.Tensor;
  /** [B,H,W,C] encoder memory. */
  memory: tf.Tensor4D;
  /** [B,H,W] bool, true = padding. */
  mask: tf.Tensor3D;
  adapt_pos2d: PositionAdapter;
  adapt_pos1d: PositionAdapter;
}

export class RCDADecoderLayer extends Module {
  readonly cross_attn: MultiheadRCDA;
  readonly dropout1: Dropout;
  readonly norm1: LayerNorm;
  readonly self_attn: TorchMultiheadAttention;
  readonly dropout2: Dropout;
  readonly norm2: LayerNorm;
  readonly ffn: AnchorFFN;

  constructor(readonly dModel: number, dFfn: number, dropout: number, numHeads: number) {
    super();
    this.cross_attn = this.registerModule('cross_attn', new MultiheadRCDA({ embed_dim: dModel, num_heads: numHeads, dropout }));
    this.dropout1 = this.registerModule('dropout1', new Dropout(dropout));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel));
    this.self_attn = this.registerModule('self_attn', new TorchMultiheadAttention(dModel, numHeads, dropout));
    this.dropout2 = this.registerModule('dropout2', new Dropout(dropout));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel));
    this.ffn = this.registerModule('ffn', new AnchorFFN(dModel, dFfn, dropout));
  }

  /** tgt [B,Nq,C] -> [B,Nq,C]. */
  forward(tgt: tf.Tensor, args: RCDADecoderLayerArgs): tf.Tensor {
    return tf.tidy(() => {
      const c = this.dModel;
      const ref = args.reference_points;
      const [b, h, w] = args.memory.shape;
      const queryPos = args.adapt_pos2d.forward(posEmbed2d(ref, c / 2)); // [B,Nq,C]
      const qk = tgt.add(queryPos);
      let out = this.norm2.forward(tgt.add(this.dropout2.forward(this.self_attn.forward(qk, qk, tgt))));
      const [x, y] = tf.unstack(ref, -1); // 2 x [B,Nq]
      const queryPosX = args.adapt_pos1d.forward(posEmbed1d(x, c)); // [B,Nq,C]
      const queryPosY = args.adapt_pos1d.forward(posEmbed1d(y, c)); // [B,Nq,C]
      const src = args.memory;
      const out2 = this.cross_attn.forward({
        query_row: out.add(queryPosX),
        query_col: out.add(queryPosY),
        key_row: src.add(args.posemb_row.reshape([b, 1, w, c])), // [B,H,W,C]
        key_col: src.add(args.posemb_col.reshape([b, h, 1, c])), // [B,H,W,C]
        value: src,
        key_padding_mask: args.mask,
      });
      out = this.norm1.forward(out.add(this.dropout1.forward(out2)));
      return this.ffn.forward(out);
    });
  }
}
