/**
 * Two-stage proposals from encoder tokens (detrex `DINOTransformer.gen_encoder_output_proposals`):
 * one box per token, centred on the token ((x + 0.5) / valid_W, (y + 0.5) / valid_H) with side
 * 0.05 * 2^level, as logits; padded tokens and boxes not inside (0.01, 0.99) get +inf and their memory
 * is zeroed (the caller then applies enc_output + enc_output_norm).
 */
import * as tf from '@tensorflow/tfjs';
import type { SpatialShapes } from '../ms_deform_attn_core';

export interface EncoderProposals {
  /** memory [B,S,C] with padded / invalid tokens set to 0. */
  maskedMemory: tf.Tensor;
  /** [B,S,4] proposal logits (inverse sigmoid of cxcywh), +inf where padded or invalid. */
  outputProposals: tf.Tensor;
}

export function genEncoderOutputProposals(memory: tf.Tensor, memoryPaddingMask: tf.Tensor, spatialShapes: SpatialShapes): EncoderProposals {
  return tf.tidy(() => {
    const [n, s] = memory.shape;
    const mask = memoryPaddingMask.cast('bool'); // [B,S]
    const notMask = tf.logicalNot(mask).cast('float32');
    const proposals: tf.Tensor[] = [];
    let cur = 0;
    spatialShapes.forEach(([h, w], lvl) => {
      const valid = notMask.slice([0, cur], [n, h * w]).reshape([n, h, w]); // [N,H,W]
      const validH = valid.slice([0, 0, 0], [n, h, 1]).sum([1, 2]).reshape([n, 1, 1]);
      const validW = valid.slice([0, 0, 0], [n, 1, w]).sum([1, 2]).reshape([n, 1, 1]);
      const gx = tf.broadcastTo(tf.range(0, w).reshape([1, 1, w]), [n, h, w]).add(0.5).div(validW); // [N,H,W]
      const gy = tf.broadcastTo(tf.range(0, h).reshape([1, h, 1]), [n, h, w]).add(0.5).div(validH);
      const side = tf.fill([n, h, w], Math.fround(0.05) * 2 ** lvl);
      proposals.push(tf.stack([gx, gy, side, side], -1).reshape([n, h * w, 4])); // [N,HW,4]
      cur += h * w;
    });
    if (cur !== s) throw new Error(`genEncoderOutputProposals: spatial shapes hold ${cur} tokens but memory has ${s}`);
    const p = tf.concat(proposals, 1); // [N,S,4]
    const inside = tf.logicalAnd(p.greater(0.01), p.less(0.99)).cast('int32').min(-1, true).cast('bool'); // [N,S,1] all()
    const drop = tf.logicalOr(mask.expandDims(-1), tf.logicalNot(inside)); // [N,S,1]
    const logits = tf.log(p.div(tf.scalar(1).sub(p)));
    return {
      outputProposals: tf.where(tf.broadcastTo(drop, [n, s, 4]), tf.fill([n, s, 4], Infinity), logits),
      maskedMemory: tf.where(tf.broadcastTo(drop, memory.shape), tf.zerosLike(memory), memory),
    };
  });
}
