/**
 * Runs the frozen leading part of a network (e.g. a ResNet's stem with freeze_at=1) off the gradient
 * tape. tfjs records every op run inside `tf.grad` / `variableGrads` and keeps the tensors each op saved
 * for its gradient until the backward pass, even when nothing upstream is trained (PyTorch records
 * nothing there because neither the weights nor the image require grad). Wrapped in `tf.customGrad`,
 * whose forward runs with the tape off, the frozen part leaves one node on the tape and saves nothing.
 *
 * Nothing upstream of it gets a gradient: not the frozen weights, and not the input. Asking for the
 * input's gradient (the only way the node's gradient function can be reached) is an error naming
 * `what`; a caller that needs it runs the part normally instead. (Recomputing the part under tf.grad
 * inside the gradient function is not possible: tfjs 4.22 has one global tape, and a nested tf.grad
 * during the backward pass replaces and then clears it.)
 */
import * as tf from '@tensorflow/tfjs';

export function runOffTape<T extends tf.Tensor>(fn: (x: T) => T, x: T, what: string): T {
  const op = tf.customGrad(((input: T) => ({
    value: fn(input),
    gradFunc: () => {
      throw new Error(`${what} ran off the gradient tape (frozen), so it has no gradient with respect to its input`);
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (input: T) => T)(x);
}
