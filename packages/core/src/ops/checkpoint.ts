/**
 * Activation checkpointing (torch.utils.checkpoint / fairscale's checkpoint_wrapper, which detrex's
 * encoders offer as `use_checkpoint`): `fn` runs off the gradient tape, keeping only its inputs; the
 * backward pass runs it again on the tape and differentiates that. Memory of a training step drops to
 * the segment inputs plus one segment's activations at a time, for one more forward of each segment.
 *
 * `fn` must be deterministic (no dropout with a fresh mask, no sampling): the recomputation must give
 * the same values. Parameters used by `fn` are passed in `params` so gradients reach them. Other
 * tensors it reads (masks, reference points: no gradient) are passed in `constants`, never captured:
 * a captured tensor is usually disposed by an enclosing tidy before the backward pass recomputes.
 *
 * tfjs 4.22 has one global tape: a tf.grad inside a gradient function replaces it (startTape) and
 * clears it at its end, and the outer backward pass then fails at its own cleanup. The outer tape is
 * put back after the inner gradient (engine.ts internals, pinned version).
 */
import * as tf from '@tensorflow/tfjs';

interface EngineTapeState {
  state: { activeTape: unknown[] | null };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/**
 * fn(...inputs, ...constants) with its activations recomputed in the backward pass instead of kept;
 * gradients flow to `inputs` and `params`, not to `constants`.
 */
export function checkpoint(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], params: tf.Variable[], constants: tf.Tensor[] = []): tf.Tensor {
  const n = inputs.length;
  const forward = (...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save([...xs, ...constants]); // kept for the recomputation (freed with the tape)
    return {
      value: fn(...xs, ...constants),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const engine = tf.engine() as unknown as EngineTapeState;
          const outerTape = engine.state.activeTape;
          const savedInputs = saved.slice(0, n);
          const savedConstants = saved.slice(n);
          const targets = [...savedInputs, ...params];
          try {
            const { grads } = engine.gradients(() => tf.sum(tf.mul(fn(...savedInputs, ...savedConstants), dy)), targets, undefined, true);
            return grads.map((g, i) => g ?? tf.zerosLike(targets[i]));
          } finally {
            engine.state.activeTape = outerTape;
          }
        }),
    };
  };
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0])(...inputs, ...params);
}
