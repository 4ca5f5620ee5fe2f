/**
 * Affine map y = x W + b with W stored [in, out] (the transpose of PyTorch's [out, in]), so the
 * forward product needs no transpose flag and all leading axes fold into one 2-d product: XNNPACK's
 * fast path on the wasm backend. Its gradients (dx = dy·Wᵀ, dW = xᵀ·dy) go through the BatchMatMul
 * gradient override (backend/matmul_grad.ts), which makes those transposes explicit on wasm.
 */
import * as tf from '@tensorflow/tfjs';

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
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, inDim]); // [prod(lead), in]
    let y: tf.Tensor = tf.matMul(x2, weight); // [prod(lead), out]
    if (bias) y = y.add(bias);
    return y.reshape([...lead, weight.shape[1]]);
  });
}
