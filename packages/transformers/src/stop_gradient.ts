/**
 * `x.detach()` for tfjs, which has no stop-gradient op. The copy is made inside a customGrad forward
 * function, which tfjs runs with the tape off, and the recorded node has no inputs: the gradient path
 * to `x` is cut (nothing upstream is computed, not even zeros). Works on every backend.
 */
import * as tf from '@tensorflow/tfjs';

export function stopGradient<T extends tf.Tensor>(x: T): T {
  const cut = tf.customGrad(() => ({ value: x.clone(), gradFunc: () => [] }));
  return (cut as unknown as () => T)();
}
