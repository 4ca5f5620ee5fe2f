/**
 * LayerNorm over the last axis (torch.nn.LayerNorm) with a hand-written gradient. The forward is
 * @detr/core's LayerNorm op for op (bit-identical values); the backward is the closed form
 *   x̂ = (x - mean) * rstd,  g = dy * weight
 *   dx = rstd * (g - mean(g) - x̂ * mean(g * x̂)),  dweight = Σ dy * x̂,  dbias = Σ dy
 * in ~12 kernels where tfjs's autodiff of moments / sub / mul / rsqrt records ~40 tape nodes: on
 * the decoder's [B, 50, 128] tensors fwd + bwd took 5.4 ms with autodiff and 1.3 ms with this
 * (wasm, bench note in bench/NOTES-speed.md); on large inputs it is compute-bound and about equal.
 * A candidate for @detr/core's LayerNorm itself.
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm } from '@detr/core';

/** x [..., C], weight [C], bias [C] -> [..., C]. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1];
  if (weight.rank !== 1 || weight.shape[0] !== c || bias.rank !== 1 || bias.shape[0] !== c) {
    throw new Error(`layerNorm: weight and bias must be [${c}] for input [${x.shape}], got [${weight.shape}] and [${bias.shape}]`);
  }
  const forward = (xi: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [xhat, rstd, y] = tf.tidy(() => {
      const { mean, variance } = tf.moments(xi, -1, true);
      const rs = tf.rsqrt(variance.add(eps)); // [..., 1]
      const xh = xi.sub(mean).mul(rs); // [..., C]
      return [xh, rs, xh.mul(w).add(b)];
    });
    save([xhat, rstd, w]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xh, rs, ws] = saved;
          const rows = xh.size / c;
          const g = dy.mul(ws);
          const dx = g.sub(g.mean(-1, true)).sub(xh.mul(g.mul(xh).mean(-1, true))).mul(rs);
          const dw = dy.mul(xh).reshape([rows, c]).sum(0); // [C]
          const db = dy.reshape([rows, c]).sum(0); // [C]
          return [dx, dw, db];
        }),
    };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, weight, bias);
}

/** torch.nn.LayerNorm (same parameters and state-dict keys as core's LayerNorm) using `layerNorm`. */
export class FusedLayerNorm extends LayerNorm {
  override forward(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
