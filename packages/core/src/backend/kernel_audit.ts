/**
 * Which kernels a closure dispatches, and which of those a backend lacks. Used to prove that a model's
 * training step (forward + gradients + optimizer) never reaches a kernel missing on wasm: run the step
 * once, on any backend (e.g. cpu with tiny inputs), and read `missing`.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelAudit {
  /** Distinct kernel names the closure dispatched, sorted. */
  kernels: string[];
  /** Per audited backend: dispatched kernels with no kernel registered for it. */
  missing: Record<string, string[]>;
  /** Dispatched kernels with no registered gradient (fine for forward-only and backward kernels). */
  withoutGradient: string[];
}

/**
 * Loads the wasm package's kernel registry (importing it registers its kernels and the backend
 * factory; it does not initialise the backend).
 */
async function ensureRegistryFor(backend: string): Promise<void> {
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
}

/** Names of the kernels registered for `backend` that the given list lacks. */
export function kernelsMissingOn(backend: string, kernels: readonly string[]): string[] {
  return kernels.filter((k) => tf.getKernel(k, backend) == null);
}

/**
 * Runs `fn` once and reports the kernels it dispatched through the engine (forward ops, gradient ops
 * and optimizer ops alike) and those missing on each of `backends` (default ['wasm']). It watches
 * `tf.engine().runKernel`, which every tfjs op calls (tf.profile would also work but keeps a record per
 * kernel call). Tensors `fn` returns are disposed.
 */
export async function auditKernels(
  fn: () => tf.TensorContainer | Promise<tf.TensorContainer> | void | Promise<void>,
  opts: { backends?: string[] } = {},
): Promise<KernelAudit> {
  const backends = opts.backends ?? ['wasm'];
  for (const b of backends) await ensureRegistryFor(b);
  const engine = tf.engine() as unknown as { runKernel: (name: string, ...rest: unknown[]) => unknown };
  const names = new Set<string>();
  const hadOwn = Object.prototype.hasOwnProperty.call(engine, 'runKernel');
  const own = engine.runKernel;
  const orig = engine.runKernel;
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    names.add(name);
    return orig.call(this, name, ...rest);
  };
  try {
    const out = await fn();
    if (out != null) tf.dispose(out as tf.TensorContainer);
  } finally {
    if (hadOwn) engine.runKernel = own;
    else delete (engine as { runKernel?: unknown }).runKernel;
  }
  const kernels = [...names].sort();
  const missing: Record<string, string[]> = {};
  for (const b of backends) missing[b] = kernelsMissingOn(b, kernels);
  return { kernels, missing, withoutGradient: kernels.filter((k) => tf.getGradient(k) == null) };
}
