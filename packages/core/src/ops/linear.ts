/**
 * Affine map y = x W + b with W stored [in, out] (the transpose of PyTorch's [out, in]), so the
 * forward product needs no transpose flag and all leading axes fold into one 2-d product: XNNPACK's
 * fast path on the wasm backend.
 *
 * One op with a hand-written gradient (tf.customGrad) that keeps only x and W for the backward pass.
 * Written as reshape -> matMul -> add -> reshape, the tape kept the product AND the biased product of
 * every linear layer (tfjs's Add gradient saves both inputs and Reshape's its input, each only for
 * their shapes): two extra copies of every linear output, the bulk of a DETR step's saved activations
 * after the attention maps. Gradients are the ones tfjs would compute (dx = dy·Wᵀ, dW = xᵀ·dy,
 * db = Σ dy over the rows), with the products through ops/matmul (flag-free on wasm, as in
 * backend/matmul_grad.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { matMul } from './matmul';

type CustomForward = Parameters<typeof tf.customGrad>[0];

/** x [..., in], weight [in, out], bias [out] -> [..., out]. */
export function linear(x: tf.Tensor, weight: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  if (weight.rank !== 2) throw new Error(`linear: weight must be [in, out], got shape [${weight.shape}]`);
  const inDim = x.shape[x.shape.length - 1];
  if (inDim !== weight.shape[0]) {
    throw new Error(`linear: input has ${inDim} features but the weight expects ${weight.shape[0]}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[1])) {
    throw new Error(`linear: bias must be [${weight.shape[1]}], got shape [${bias.shape}]`);
  }
  const outDim = weight.shape[1];
  const lead = x.shape.slice(0, -1);
  const forward = (...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xs, w, b] = args.slice(0, -1) as [tf.Tensor, tf.Tensor2D, tf.Tensor1D | undefined];
    let y = matMul(xs.reshape([-1, inDim]), w); // [prod(lead), out]
    if (b) y = y.add(b);
    save([xs, w]);
    return {
      value: y.reshape([...lead, outDim]),
      // tidy: a custom gradient runs outside backprop's per-node tidy (temporaries would live to the end).
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [xSaved, wSaved] = saved;
          const dy2 = dy.reshape([-1, outDim]); // [prod(lead), out]
          const dx = matMul(dy2, wSaved, { transposeB: true }).reshape(xSaved.shape); // [..., in]
          const dw = matMul(xSaved.reshape([-1, inDim]), dy2, { transposeA: true }); // [in, out]
          return b ? [dx, dw, dy2.sum(0)] : [dx, dw];
        }),
    };
  };
  const op = tf.customGrad(forward as unknown as CustomForward);
  return bias ? op(x, weight, bias) : op(x, weight);
}
