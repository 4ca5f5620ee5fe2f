/**
 * Two-stage proposals from encoder tokens (detrex `DINOTransformer.gen_encoder_output_proposals`):
 * one box per token, centred on the token ((x + 0.5) / valid_W, (y + 0.5) / valid_H) with side
 * 0.05 * 2^level, as logits; padded tokens and boxes not inside (0.01, 0.99) get +inf and their memory
 * is zeroed (the caller then applies enc_output + enc_output_norm).
 *
 * The proposals depend only on the padding mask, so they are computed in plain JS (torch's float32
 * op sequence, each step rounded with Math.fround) and the memory is zeroed by a product with the 0/1
 * keep mask: the tfjs version broadcast bool conditions to [B,S,C] for tf.where, and wasm's Tile
 * costs ~60 ns per element (bench/train_step.ts: ~40 ms per call at 8 x 2550 x 128).
 */
import * as tf from '@tensorflow/tfjs';
import { readMask } from '../masks';
import type { SpatialShapes } from '../ms_deform_attn_core';

export interface EncoderProposals {
  /** memory [B,S,C] with padded / invalid tokens set to 0. */
  maskedMemory: tf.Tensor;
  /** [B,S,4] proposal logits (inverse sigmoid of cxcywh), +inf where padded or invalid. */
  outputProposals: tf.Tensor;
}

/** Proposal logits [B*S*4] (+Infinity where dropped) and the keep mask [B*S] (1 kept, 0 dropped). */
export function proposalLogits(mask: Uint8Array, b: number, spatialShapes: SpatialShapes): { logits: Float32Array; keep: Float32Array } {
  const s = spatialShapes.reduce((acc, [h, w]) => acc + h * w, 0);
  if (mask.length !== b * s) throw new Error(`genEncoderOutputProposals: spatial shapes hold ${s} tokens but the mask has ${mask.length / b}`);
  const logits = new Float32Array(b * s * 4);
  const keep = new Float32Array(b * s);
  const lo = Math.fround(0.01);
  const hi = Math.fround(0.99);
  const p = new Float32Array(4);
  for (let n = 0; n < b; n++) {
    let cur = 0;
    spatialShapes.forEach(([h, w], lvl) => {
      const base = n * s + cur;
      // valid_H = unpadded rows of column 0, valid_W = unpadded columns of row 0 (float32 sums).
      let validH = 0;
      let validW = 0;
      for (let i = 0; i < h; i++) if (!mask[base + i * w]) validH++;
      for (let j = 0; j < w; j++) if (!mask[base + j]) validW++;
      const side = Math.fround(Math.fround(0.05) * 2 ** lvl);
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const t = base + i * w + j;
          p[0] = Math.fround(Math.fround(j + 0.5) / validW);
          p[1] = Math.fround(Math.fround(i + 0.5) / validH);
          p[2] = side;
          p[3] = side;
          let inside = true;
          for (let k = 0; k < 4; k++) inside = inside && p[k] > lo && p[k] < hi;
          const drop = mask[t] !== 0 || !inside;
          keep[t] = drop ? 0 : 1;
          for (let k = 0; k < 4; k++) {
            // log(p / (1 - p)) in float32 steps; +inf where dropped (masked_fill(float("inf"))).
            logits[4 * t + k] = drop ? Infinity : Math.log(Math.fround(p[k] / Math.fround(1 - p[k])));
          }
        }
      }
      cur += h * w;
    });
  }
  return { logits, keep };
}

export function genEncoderOutputProposals(memory: tf.Tensor, memoryPaddingMask: tf.Tensor, spatialShapes: SpatialShapes): EncoderProposals {
  const [n, s] = memory.shape;
  const total = spatialShapes.reduce((acc, [h, w]) => acc + h * w, 0);
  if (total !== s) throw new Error(`genEncoderOutputProposals: spatial shapes hold ${total} tokens but memory has ${s}`);
  const { logits, keep } = proposalLogits(readMask(memoryPaddingMask), n, spatialShapes);
  return tf.tidy(() => ({
    outputProposals: tf.tensor3d(logits, [n, s, 4]),
    maskedMemory: memory.mul(tf.tensor3d(keep, [n, s, 1])), // [B,S,C] x [B,S,1]
  }));
}
