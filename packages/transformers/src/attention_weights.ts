/**
 * Attention weights softmax(a bᵀ + bias) as one op with a hand-written gradient.
 *
 * Written as plain tfjs ops, the tape keeps three [B*heads, Nq, Nk] maps per attention: the logits
 * (saved by the Reshape that splits the heads for the bias: tfjs's Reshape gradient saves its input for
 * its shape), the biased logits (saved by the Reshape back) and the softmax output. With 1,000+ queries
 * (DINO's 900 + denoising groups) those are the largest tensors of a training step, and on the wasm
 * backend (4 GiB heap) an R50 step at batch 2 did not fit. Here the forward runs inside tf.customGrad,
 * whose intermediates are freed at once: only a, b and the weights are kept.
 *
 * Forward: exactly the ops of the plain form (matMul with transposeB, add the bias per batch/head,
 * softmax over the keys). Backward: tfjs's softmax gradient (dl = dy*y - sum(dy*y)*y) and the
 * BatchMatMul gradients for transposeB (da = dl b, db = dlᵀ a). The bias is a constant (masks); it
 * gets no gradient.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * a [B*H, Nq, d], b [B*H, Nk, d], bias [1|B, 1|H, 1|Nq, Nk] or null -> weights [B*H, Nq, Nk]
 * (softmax over the last axis). `batch` and `heads` give the split of a's first axis (B*H).
 */
export function attentionWeights(a: tf.Tensor3D, b: tf.Tensor3D, bias: tf.Tensor | null, batch: number, heads: number): tf.Tensor3D {
  const [bh, nq, d] = a.shape;
  const nk = b.shape[1];
  if (bh !== batch * heads || b.shape[0] !== bh || b.shape[2] !== d) {
    throw new Error(`attentionWeights: a [${a.shape}] and b [${b.shape}] must be [${batch}*${heads}, N, d] with the same d`);
  }
  if (bias && (bias.rank !== 4 || (bias.shape[2] !== 1 && bias.shape[2] !== nq) || bias.shape[3] !== nk || (bias.shape[0] !== 1 && bias.shape[0] !== batch) || (bias.shape[1] !== 1 && bias.shape[1] !== heads))) {
    throw new Error(`attentionWeights: bias must be [1|${batch}, 1|${heads}, 1|${nq}, ${nk}], got [${bias.shape}]`);
  }
  const forward = (x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    let logits: tf.Tensor = tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, true); // [B*H, Nq, Nk]
    if (bias) logits = logits.reshape([batch, heads, nq, nk]).add(bias).reshape([bh, nq, nk]);
    const weights = tf.softmax(logits, -1);
    save([x, y, weights]);
    return {
      value: weights,
      // tidy: a custom gradient runs outside backprop's per-node tidy, so its temporaries (three
      // [B*H, Nq, Nk] maps) would otherwise live until the whole backward pass ends.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xs, ys, w] = saved;
          const dyTimesW = dy.mul(w);
          const dLogits = dyTimesW.sub(dyTimesW.sum(-1, true).mul(w)); // [B*H, Nq, Nk]
          return [tf.matMul(dLogits as tf.Tensor3D, ys as tf.Tensor3D), tf.matMul(dLogits as tf.Tensor3D, xs as tf.Tensor3D, true, false)];
        }),
    };
  };
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0])(a, b) as tf.Tensor3D;
}

/** Large negative logit for blocked entries (torch fills -inf; exp underflows to 0 either way). */
export const BLOCKED = -1e30;

/**
 * attn_mask [Nq,Nk] and key_padding_mask [B,Nk] (true = blocked) -> an additive logit bias
 * [1|B, 1, Nq, Nk] (BLOCKED where blocked, 0 elsewhere), or null. Adding it gives exactly torch's
 * masked logits (logit + 0 = logit; logit + BLOCKED rounds to BLOCKED for any |logit| < 1e22) and the
 * same softmax, without broadcasting a bool mask to [B*h, Nq, Nk] for tf.where (wasm's Tile is slow).
 * A float attn_mask is cast to bool (`floatAttnMask: 'block'`, nn.MultiheadAttention here) or added as
 * it is (`'add'`, detrex's conditional attention).
 */
export function maskBias(
  attnMask: tf.Tensor | null | undefined,
  keyPaddingMask: tf.Tensor | null | undefined,
  b: number,
  nq: number,
  nk: number,
  where: string,
  floatAttnMask: 'block' | 'add',
): tf.Tensor | null {
  let bias: tf.Tensor | null = null;
  if (attnMask) {
    if (attnMask.rank !== 2 || attnMask.shape[0] !== nq || attnMask.shape[1] !== nk) {
      throw new Error(`${where}: attn_mask must be [${nq}, ${nk}], got [${attnMask.shape}]`);
    }
    const added = attnMask.dtype !== 'bool' && floatAttnMask === 'add';
    bias = (added ? attnMask : attnMask.cast('bool').cast('float32').mul(BLOCKED)).reshape([1, 1, nq, nk]);
  }
  if (keyPaddingMask) {
    if (keyPaddingMask.rank !== 2 || keyPaddingMask.shape[0] !== b || keyPaddingMask.shape[1] !== nk) {
      throw new Error(`${where}: key_padding_mask must be [${b}, ${nk}] bool, got [${keyPaddingMask.shape}]`);
    }
    const kpm = keyPaddingMask.cast('bool').cast('float32').mul(BLOCKED).reshape([b, 1, 1, nk]);
    bias = bias ? tf.add(bias, kpm) : kpm;
  }
  return bias;
}
