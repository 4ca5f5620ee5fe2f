/**
 * LayerNorm and GroupNorm with hand-written gradients. The forward is the same op sequence as the
 * autodiff versions (identical values); the backward is the closed form over each normalised group of
 * M elements:
 *   x̂ = (x - mean) * rstd,  g = dy * weight
 *   dx = rstd * (g - mean(g) - x̂ * mean(g * x̂)),  dweight = Σ dy * x̂,  dbias = Σ dy
 * in about a dozen kernels, where tfjs's autodiff of moments / sub / mul / rsqrt records about 40 tape
 * nodes per layer (per-kernel dispatch dominates on wasm for the small tensors of a DETR).
 */
import * as tf from '@tensorflow/tfjs';

type Forward = Parameters<typeof tf.customGrad>[0];

/**
 * The shared op: x viewed as `grouped` is normalised over `axes` (each group of M elements), then
 * scaled and shifted per channel (the last axis of x, C); gradients in the closed form above.
 */
function affineNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, grouped: number[], axes: number[], eps: number): tf.Tensor {
  const shape = x.shape;
  const c = shape[shape.length - 1];
  const forward = (xi: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [xhat, rstd, y] = tf.tidy(() => {
      const xg = xi.reshape(grouped);
      const { mean, variance } = tf.moments(xg, axes, true); // 1 on the normalised axes
      const rs = tf.rsqrt(variance.add(eps));
      const xh = xg.sub(mean).mul(rs).reshape(shape);
      return [xh, rs, xh.mul(w).add(b)];
    });
    save([xhat, rstd, w]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xh, rs, ws] = saved;
          const g = dy.mul(ws).reshape(grouped);
          const xg = xh.reshape(grouped);
          const dx = g.sub(g.mean(axes, true)).sub(xg.mul(g.mul(xg).mean(axes, true))).mul(rs).reshape(shape);
          const dw = dy.mul(xh).reshape([-1, c]).sum(0); // [C]
          const db = dy.reshape([-1, c]).sum(0); // [C]
          return [dx, dw, db];
        }),
    };
  };
  return tf.customGrad(forward as unknown as Forward)(x, weight, bias);
}

/** x [..., C], weight [C], bias [C] -> [..., C] (torch.nn.functional.layer_norm over the last axis). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: number): tf.Tensor {
  const c = x.shape[x.rank - 1];
  if (weight.rank !== 1 || weight.shape[0] !== c || bias.rank !== 1 || bias.shape[0] !== c) {
    throw new Error(`layerNorm: weight and bias must be [${c}] for input [${x.shape}], got [${weight.shape}] and [${bias.shape}]`);
  }
  return affineNorm(x, weight, bias, [x.size / c, c], [1], eps); // rows of C
}

/**
 * x [N,H,W,C] (NHWC), weight [C], bias [C] -> [N,H,W,C] (torch.nn.functional.group_norm with
 * `groups` groups of C/groups consecutive channels, statistics over H, W and the group's channels).
 */
export function groupNorm(x: tf.Tensor4D, weight: tf.Tensor, bias: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels are not divisible by ${groups} groups`);
  if (weight.rank !== 1 || weight.shape[0] !== c || bias.rank !== 1 || bias.shape[0] !== c) {
    throw new Error(`groupNorm: weight and bias must be [${c}] for input [${x.shape}], got [${weight.shape}] and [${bias.shape}]`);
  }
  return affineNorm(x, weight, bias, [n, h * w, groups, c / groups], [1, 3], eps) as tf.Tensor4D; // [N, HW, G, C/G]
}
