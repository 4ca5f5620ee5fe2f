/**
 * Identity for wasm that shares the input's buffer instead of copying it.
 *
 * tfjs-core's engine clones every tensor it saves for the backward pass (engine.ts
 * `saveTensorsForBackwardMode`: `tensors.map(t => this.keep(this.clone(t)))`), and a clone is the
 * Identity kernel. tfjs-backend-wasm 4.22's Identity (src/kernels/Identity.ts) allocates a new buffer
 * and copies, so on wasm every activation kept for the gradient existed twice in the heap: a DINO
 * decoder with 1,000 queries at batch 2 stacked up copies of each [B*heads, 1098, 1098] attention
 * map and ran the 4 GiB heap out (the "memory access out of bounds" of docs/performance.md). The cpu
 * backend's Identity shares the buffer with a reference count (as wasm's own Reshape does); tensors
 * are immutable (kernels always write new outputs, Variable.assign swaps buffers), so sharing is safe.
 * Strings go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { originalWasmKernel } from './replaced_kernel';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** Kernel config for the wasm Identity that shares the input's buffer; `original` handles strings. */
export function sharedIdentityKernel(): tf.KernelConfig {
  const original = originalWasmKernel('Identity', 'identity_wasm');
  return {
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      if (x.dtype === 'string') return original.kernelFunc(args);
      (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
}
