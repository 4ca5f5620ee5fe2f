/**
 * Relu's gradient from its OUTPUT: dx = dy * step(y), the same values as tfjs-core's dy * step(x)
 * (gradients/Relu_grad.ts) since y > 0 exactly where x > 0. tfjs saves the input x, which in a conv ->
 * norm -> relu -> conv chain is a map nothing else keeps, while the output is saved anyway by the next
 * conv or linear layer (shared buffer, no copy): one feature map less per activation in a step's
 * memory (PyTorch's ReLU likewise saves its result).
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientOverride } from './gradient_override';

export const reluGradOverride: GradientOverride = {
  kernelName: 'Relu',
  backends: 'all',
  replacesUpstream: true,
  outputsToSave: [true],
  why: 'tfjs saves the input; the same gradient from the output (kept anyway by the next layer) saves one feature map per activation',
  gradFunc: (dy, saved) => {
    const [y] = saved;
    return { x: () => tf.mul(dy as tf.Tensor, tf.step(y, 0)) };
  },
};
