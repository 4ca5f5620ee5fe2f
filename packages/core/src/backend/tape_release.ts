/**
 * Frees each tape node's saved tensors as soon as backprop is done with that node.
 *
 * tfjs-core 4.22 keeps every tensor saved for the backward pass until the whole backward pass ends
 * (engine.ts `gradients`: the tape's `saved` lists are disposed after backpropagateGradients), so the
 * peak of a training step is all saved activations PLUS the gradients being built. PyTorch's autograd
 * frees a node's saved tensors once its backward has run. Backprop (tape.ts backpropagateGradients)
 * visits the nodes one at a time, in reverse, and evaluates every input gradient of a node before the
 * next node's `gradient` is called; each node's saved tensors are its own clones (shared buffers with
 * reference counts), so disposing them then is safe. This wraps the engine's `addTapeNode`: when a
 * node's gradient is called, the previous node's saved tensors are disposed (the engine's own cleanup
 * at the end finds them disposed). Only for first-order gradients (gradientDepth 0), as the engine's
 * own cleanup. Depends on tfjs-core 4.22 internals (pinned; checked at install).
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNodeLike {
  saved?: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => unknown;
}

interface EngineInternals {
  state: { activeTape: TapeNodeLike[] | null; gradientDepth: number };
  addTapeNode: (...args: unknown[]) => void;
}

const INSTALLED = Symbol('detrTapeRelease');
let enabled = true;
let pending: TapeNodeLike | null = null;

/** Turns the early release on/off (tests and benchmarks compare both); returns the previous value. */
export function setTapeReleaseEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

function release(node: TapeNodeLike): void {
  for (const t of node.saved ?? []) t.dispose();
}

/** Installs the wrapper on tfjs's engine (idempotent). */
export function installTapeRelease(): void {
  const engine = tf.engine() as unknown as EngineInternals & { [INSTALLED]?: boolean };
  if (engine[INSTALLED]) return;
  const original = engine.addTapeNode;
  if (typeof original !== 'function' || !engine.state) throw new Error('tape_release: tfjs engine internals changed (addTapeNode/state missing; tfjs-core 4.22.0 expected)');
  engine.addTapeNode = function (this: EngineInternals, ...args: unknown[]): void {
    original.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    const gradient = node?.gradient;
    if (!node || !gradient) return;
    node.gradient = (dys: tf.Tensor[]) => {
      if (pending && pending !== node && enabled && this.state.gradientDepth === 0) release(pending);
      pending = null;
      const out = gradient(dys);
      pending = node;
      return out;
    };
  };
  engine[INSTALLED] = true;
}
