/**
 * Zero gradients for comparison and logical kernels, which tfjs registers no gradient for (any
 * backend). Their outputs are bool, so no gradient flows through them, but the tape still visits them
 * when their inputs depend on a variable (e.g. `tf.where(x.greater(0), a, b)`: Select's condition
 * input gets a zero gradient and backprop then needs Greater's), and fails with "gradient function
 * not found". PyTorch likewise treats comparisons as non-differentiable.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientOverride } from './gradient_override';

/** Binary kernels (inputs a, b) without a tfjs gradient. GreaterEqual has one (zeros) upstream. */
export const ZERO_GRAD_BINARY_KERNELS = ['Equal', 'NotEqual', 'Greater', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr'] as const;
/** Unary kernels (input x) without a tfjs gradient. */
export const ZERO_GRAD_UNARY_KERNELS = ['LogicalNot', 'All', 'Any'] as const;

function zerosOf(t: tf.Tensor): tf.Tensor {
  return tf.zeros(t.shape, 'float32');
}

export function comparisonGradOverrides(): GradientOverride[] {
  const binary = ZERO_GRAD_BINARY_KERNELS.map(
    (kernelName): GradientOverride => ({
      kernelName,
      backends: 'all',
      inputsToSave: ['a', 'b'],
      why: 'comparison/logical op: tfjs has no gradient; zero (non-differentiable, as in PyTorch)',
      gradFunc: (_dy, saved) => {
        const [a, b] = saved;
        return { a: () => zerosOf(a), b: () => zerosOf(b) };
      },
    }),
  );
  const unary = ZERO_GRAD_UNARY_KERNELS.map(
    (kernelName): GradientOverride => ({
      kernelName,
      backends: 'all',
      inputsToSave: ['x'],
      why: 'logical op: tfjs has no gradient; zero (non-differentiable)',
      gradFunc: (_dy, saved) => {
        const [x] = saved;
        return { x: () => zerosOf(x) };
      },
    }),
  );
  return [...binary, ...unary];
}
