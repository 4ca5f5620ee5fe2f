/**
 * DAB-DETR's transformer (detrex `projects/dab_detr/modeling/dab_transformer.py::DabDetrTransformer`):
 * flatten the single-level map, encode it, then decode the anchor boxes. The content queries are zeros,
 * or with `num_patterns` > 0 (Anchor DETR's patterns, the `3patterns` configs) every pattern embedding
 * is paired with every anchor, pattern-major: query p*Q + i = (pattern p, anchor i).
 */
import * as tf from '@tensorflow/tfjs';
import { Embedding, Module, xavierUniform_ } from '@detr/core';
import { register } from '@detr/registry';
import type { DabDetrTransformerDecoder, DabDetrDecoderOutput } from './dab_transformer_decoder';
import type { DabDetrTransformerEncoder } from './dab_transformer_encoder';
import { checkKnownOptions } from './options';

export interface DabDetrTransformerOptions {
  encoder: DabDetrTransformerEncoder;
  decoder: DabDetrTransformerDecoder;
  num_patterns?: number;
}

export interface DabDetrTransformerInputs {
  /** [B,H,W,C] projected features. */
  features: tf.Tensor4D;
  /** [B,H,W] bool, true = padding. */
  mask: tf.Tensor3D;
  /** [Q,4] anchor boxes in logit space. */
  anchor_box_embed: tf.Tensor2D;
  /** [B,H,W,C] position embedding. */
  pos_embed: tf.Tensor4D;
  /** Pass the padding mask to the decoder's cross-attention (detrex does not: false). */
  decoder_key_padding_mask?: boolean;
}

@register('transformer', 'dab_detr')
export class DabDetrTransformer extends Module {
  readonly encoder: DabDetrTransformerEncoder;
  readonly decoder: DabDetrTransformerDecoder;
  readonly embedDim: number;
  readonly numPatterns: number;
  readonly patterns: Embedding | null;

  constructor(opts: DabDetrTransformerOptions) {
    super();
    const where = 'DabDetrTransformer';
    if (!opts || typeof opts !== 'object') throw new Error(`${where}: options must be an object {encoder, decoder, num_patterns?}`);
    checkKnownOptions(opts, ['encoder', 'decoder', 'num_patterns'], where);
    if (!opts.encoder || typeof opts.encoder.forward !== 'function') throw new Error(`${where}: encoder must be a DabDetrTransformerEncoder (encoder/dab_detr)`);
    if (!opts.decoder || typeof opts.decoder.forward !== 'function') throw new Error(`${where}: decoder must be a DabDetrTransformerDecoder (decoder/dab_detr)`);
    this.encoder = this.registerModule('encoder', opts.encoder);
    this.decoder = this.registerModule('decoder', opts.decoder);
    this.embedDim = opts.encoder.embedDim;
    if (opts.decoder.embedDim !== this.embedDim) throw new Error(`${where}: encoder embed_dim ${this.embedDim} differs from decoder embed_dim ${opts.decoder.embedDim}`);
    const numPatterns = opts.num_patterns ?? 0;
    if (!Number.isInteger(numPatterns) || numPatterns < 0) throw new Error(`${where}: num_patterns should be an integer >= 0, got ${JSON.stringify(numPatterns)}`);
    this.numPatterns = numPatterns;
    this.patterns = this.registerModule('patterns', numPatterns > 0 ? new Embedding(numPatterns, this.embedDim) : null);
    this.initWeights();
  }

  /** detrex `init_weights`: xavier_uniform on every parameter with dim > 1 (before the detector's heads exist). */
  initWeights(): void {
    for (const [, p] of this.namedParameters()) if (p.shape.length > 1) xavierUniform_(p);
  }

  /** -> per decoder layer: states [B, P*Q (or Q), C] and input references [B, P*Q, 4]. */
  forward(inputs: DabDetrTransformerInputs): DabDetrDecoderOutput {
    const { features, mask, anchor_box_embed: anchors, pos_embed: pos } = inputs;
    const [b, h, w, c] = features.shape;
    if (c !== this.embedDim) throw new Error(`DabDetrTransformer: features have ${c} channels, expected embed_dim ${this.embedDim}`);
    if (!sameShape(pos.shape, features.shape)) throw new Error(`DabDetrTransformer: pos_embed [${pos.shape}] must have the features' shape [${features.shape}]`);
    if (mask.rank !== 3 || mask.shape[0] !== b || mask.shape[1] !== h || mask.shape[2] !== w) {
      throw new Error(`DabDetrTransformer: mask must be [${b}, ${h}, ${w}], got [${mask.shape}]`);
    }
    if (anchors.rank !== 2 || anchors.shape[1] !== 4) throw new Error(`DabDetrTransformer: anchor_box_embed must be [Q, 4], got [${anchors.shape}]`);
    return tf.tidy(() => {
      const x = features.reshape([b, h * w, c]); // [B,S,C] row-major tokens
      const posFlat = pos.reshape([b, h * w, c]); // [B,S,C]
      const maskFlat = mask.reshape([b, h * w]).cast('bool'); // [B,S]
      const memory = this.encoder.forward(x, { query_pos: posFlat, query_key_padding_mask: maskFlat });
      const q = anchors.shape[0];
      let target: tf.Tensor; // [B, P*Q, C]
      let anchorsB: tf.Tensor = tf.broadcastTo(anchors.reshape([1, q, 4]), [b, q, 4]); // [B,Q,4]
      if (!this.patterns) {
        target = tf.zeros([b, q, c]);
      } else {
        const p = this.numPatterns;
        // patterns.weight[:, None, None, :].repeat(1, Q, B, 1).flatten(0, 1): pattern-major queries.
        target = tf.broadcastTo(this.patterns.weight.reshape([1, p, 1, c]), [b, p, q, c]).reshape([b, p * q, c]);
        anchorsB = tf.tile(anchorsB, [1, p, 1]); // anchor_box_embed.repeat(P, 1, 1): [B, P*Q, 4]
      }
      return this.decoder.forward(target, {
        memory,
        key_pos: posFlat,
        anchor_box_embed: anchorsB,
        key_padding_mask: inputs.decoder_key_padding_mask ? maskFlat : null,
      });
    });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
