/**
 * Helpers for the wasm kernels detr-ts replaces (fast_kernels.ts REPLACED_WASM_KERNELS): the original
 * tfjs-wasm kernel each replacement falls back to, and a tag that tells a registered replacement from
 * the original (the engine keeps one config per kernel name and backend).
 */
import * as tf from '@tensorflow/tfjs';

/** The tfjs-wasm kernel registered as `kernelName`; `file` names the caller in the error. */
export function originalWasmKernel(kernelName: string, file: string): tf.KernelConfig {
  const k = tf.getKernel(kernelName, 'wasm');
  if (!k) throw new Error(`${file}: no wasm ${kernelName} kernel registered (is @tensorflow/tfjs-backend-wasm 4.22.0 loaded?)`);
  return k;
}

const REPLACEMENT = Symbol('detrReplacementKernel');

/** Tags `kernelFunc` as detr-ts's replacement (see replacementRegistered) and returns it. */
export function markReplacement(kernelFunc: tf.KernelConfig['kernelFunc']): tf.KernelConfig['kernelFunc'] {
  (kernelFunc as unknown as Record<symbol, boolean>)[REPLACEMENT] = true;
  return kernelFunc;
}

/** Whether the wasm kernel registered as `kernelName` is a kernelFunc tagged by markReplacement. */
export function replacementRegistered(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, 'wasm');
  return Boolean(k && (k.kernelFunc as unknown as Record<symbol, boolean>)[REPLACEMENT]);
}
