/**
 * torch.nn.utils.clip_grad_norm_: one global norm over all gradients; if it exceeds max_norm, every
 * gradient is scaled by max_norm / (total_norm + 1e-6). Returns the total norm (before clipping) and
 * the (possibly new) gradients; replaced gradient tensors are disposed.
 */
import * as tf from '@tensorflow/tfjs';

export function clipGradNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
  normType = 2,
): { totalNorm: number; grads: Record<string, tf.Tensor> } {
  const names = Object.keys(grads);
  if (names.length === 0) return { totalNorm: 0, grads };
  const totalNorm = tf.tidy(() => {
    // One flat vector of every gradient: a few kernels in all instead of a few per parameter.
    const flat = tf.concat(names.map((n) => grads[n].reshape([-1])));
    if (normType === Infinity) return flat.abs().max().dataSync()[0];
    if (normType === 2) return Math.sqrt(flat.square().sum().dataSync()[0]);
    return flat.abs().pow(normType).sum().pow(1 / normType).dataSync()[0];
  });
  const coef = maxNorm / (totalNorm + 1e-6);
  if (!(coef < 1)) return { totalNorm, grads };
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) {
    out[n] = tf.tidy(() => grads[n].mul(coef));
    grads[n].dispose();
  }
  return { totalNorm, grads: out };
}
