/**
 * UnsortedSegmentSum for the wasm backend, which lacks it (it is `gather`'s gradient, tfjs-core
 * gradients/GatherV2_grad.ts). A plain-JS loop that reads the inputs from and writes the output into
 * the wasm heap directly (no copy to another backend): out[ids[i]] += x[i] for the leading segment
 * axes, ids outside [0, numSegments) dropped (TensorFlow's UnsortedSegmentSum semantics). It is
 * O(x.size), ~1 ns per element, and sums in index order like the cpu kernel, so the numbers match.
 * Measured against alternatives in bench/ops.ts ("gather backward").
 */
import type * as tf from '@tensorflow/tfjs';

type TypedArray = Float32Array | Int32Array | Uint8Array;

/** The slice of tfjs-backend-wasm 4.22's BackendWasm that this kernel uses. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): TypedArray;
}

/** out[numSegments, ...x.shape[ids.rank:]] = Σ_{i: ids[i] = s} x[i] (ids flattened over its axes). */
export function unsortedSegmentSumInto(out: TypedArray, x: TypedArray, ids: Int32Array, numSegments: number, inner: number): void {
  out.fill(0);
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

export const unsortedSegmentSumWasmKernel: tf.KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const { numSegments } = attrs as unknown as { numSegments: number };
    const be = backend as unknown as WasmBackendLike;
    if (segmentIds.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm): segmentIds must be int32, got ${segmentIds.dtype}`);
    const r = segmentIds.shape.length;
    for (let i = 0; i < r; i++) {
      if (segmentIds.shape[i] !== x.shape[i]) {
        throw new Error(`UnsortedSegmentSum (wasm): segmentIds shape [${segmentIds.shape}] is not a prefix of x shape [${x.shape}]`);
      }
    }
    const innerShape = x.shape.slice(r);
    const inner = innerShape.reduce((p, v) => p * v, 1);
    // Allocate first: a growing heap replaces the buffer, so views are taken afterwards.
    const out = be.makeOutput([numSegments, ...innerShape], x.dtype);
    const outView = be.typedArrayFromHeap(out);
    const xView = be.typedArrayFromHeap(x);
    const idView = be.typedArrayFromHeap(segmentIds) as Int32Array;
    unsortedSegmentSumInto(outView, xView, idView, numSegments, inner);
    return out;
  },
};
