/**
 * BatchMatMul kernel for wasm that keeps every product on XNNPACK's fast path, so that any
 * tf.matMul (model code, tfjs's own gradients) is fast, not only ops/matmul's.
 *
 * tfjs-backend-wasm 4.22 (src/cc/batch_mat_mul_impl.cc) uses XNNPACK's fully-connected operator only
 * when no transpose flag is set and both batch sizes are 1; otherwise a scalar blocked loop runs
 * (measured here: transposeA ~60-95x, transposeB ~13x slower on 1024³; batched attention products
 * 13-14x slower). Its JS side also allocates max(batchA, batchB) output matrices, so broadcasting
 * [2,1,...] against [3,...] reads and writes past the buffers (wrong values; checked on this machine).
 * This kernel, built on the original one:
 *  - no flag, batch 1: the original kernel;
 *  - flags, batch 1: an explicit transpose (wasm's Transpose kernel) of the cheaper operand(s), or
 *    Cᵀ = Bᵀ·Aᵀ when that moves fewer elements, then the original kernel;
 *  - shared right operand (batchB = 1, no transposeA): one [batchA·M, K]·[K, N] product;
 *  - otherwise, per output batch entry, one 2-d product of slices (broadcast indices computed here),
 *    unless the entries are small (bmmKernelSplitMinMacs()) and need no broadcasting, where the
 *    original loop is faster than per-entry operator setup.
 */
import * as tf from '@tensorflow/tfjs';
import { sliceFromHeap } from './slice_wasm';
import { wasmInitResult } from './wasm_node';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/**
 * Per-entry multiply-adds (M·K·N) from which batched products are split into 2-d XNNPACK products
 * (bench/ops.ts "bmm" rows, 2-core machine under load): with 1 thread the split wins from 32³; with
 * more, every XNNPACK call also wakes the thread pool (~0.1-0.2 ms under load), and the split wins
 * only from ~300K (100x32x100 was even, 300x32x300 3.7x faster split).
 */
export const BMM_SPLIT_MIN_MACS_1_THREAD = 32 * 32 * 32;
export const BMM_SPLIT_MIN_MACS_THREADS = 256 * 1024;

let splitMinMacsOverride: number | null = null;

export function bmmKernelSplitMinMacs(): number {
  if (splitMinMacsOverride !== null) return splitMinMacsOverride;
  return (wasmInitResult()?.threads ?? 1) > 1 ? BMM_SPLIT_MIN_MACS_THREADS : BMM_SPLIT_MIN_MACS_1_THREAD;
}

/** For benchmarks: sets the split threshold (Infinity: never split when no broadcast is needed; null: default). */
export function setBmmKernelSplitMinMacs(macs: number | null): number | null {
  const prev = splitMinMacsOverride;
  splitMinMacsOverride = macs;
  return prev;
}

let enabled = true;

/** For benchmarks and tests: false makes the kernel pass everything to tfjs-wasm's own. */
export function setFastBatchMatMulEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

const prod = (s: number[]): number => s.reduce((p, v) => p * v, 1);
const view = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: t.dataId, shape, dtype: t.dtype });

/** Flat batch index of an operand for each flat output batch index (right-aligned broadcasting). */
export function broadcastBatchIndex(lead: number[], leadX: number[]): Int32Array {
  const n = prod(lead);
  const out = new Int32Array(n);
  const offset = lead.length - leadX.length;
  const stridesX = tf.util.computeStrides(leadX);
  for (let o = 0; o < n; o++) {
    let rest = o;
    let ix = 0;
    for (let d = lead.length - 1; d >= 0; d--) {
      const i = rest % lead[d];
      rest = Math.floor(rest / lead[d]);
      const dx = d - offset;
      if (dx >= 0 && leadX[dx] !== 1) ix += i * (dx < leadX.length - 1 ? stridesX[dx] : 1);
    }
    out[o] = ix;
  }
  return out;
}

export function fastBatchMatMulKernel(): tf.KernelConfig {
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  const transposeKernel = tf.getKernel('Transpose', 'wasm');
  if (!orig || !transposeKernel) throw new Error('batch_matmul_wasm: the wasm BatchMatMul/Transpose kernels are not registered (tfjs-backend-wasm 4.22.0 not loaded?)');

  const kernelFunc: tf.KernelConfig['kernelFunc'] = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA: tA, transposeB: tB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackendLike;
    if (!enabled || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return orig.kernelFunc(args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const [M, K] = tA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
    const [K2, N] = tB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
    if (K !== K2) return orig.kernelFunc(args); // its error message
    const leadA = a.shape.slice(0, -2);
    const leadB = b.shape.slice(0, -2);
    const lead = tf.broadcast_util.assertAndGetBroadcastShape(leadA, leadB);
    const batchA = prod(leadA);
    const batchB = prod(leadB);
    const batch = prod(lead);
    const outShape = [...lead, M, N];

    const temps: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo): tf.TensorInfo => (temps.push(t), t);
    const mm = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo =>
      orig.kernelFunc({ inputs: { a: x, b: y }, backend: args.backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
    /** Swaps the last two axes of t (viewed with `shape`) through wasm's Transpose kernel. */
    const T = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => {
      const r = shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
      return transposeKernel.kernelFunc({ inputs: { x: view(t, shape) }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
    };

    try {
      if (batchA === 1 && batchB === 1) {
        if (!tA && !tB) return orig.kernelFunc(args);
        const a2 = a.shape.slice(-2);
        const b2 = b.shape.slice(-2);
        const direct = (tA ? M * K : 0) + (tB ? K * N : 0);
        const swapped = (tA ? 0 : M * K) + (tB ? 0 : K * N) + M * N;
        if (direct <= swapped) {
          const x = tA ? keep(T(a, a2)) : view(a, a2); // [M, K]
          const y = tB ? keep(T(b, b2)) : view(b, b2); // [K, N]
          const c = mm(x, y);
          return view(c, outShape);
        }
        const bt = tB ? view(b, b2) : keep(T(b, b2)); // (op B)ᵀ [N, K]
        const at = tA ? view(a, a2) : keep(T(a, a2)); // (op A)ᵀ [K, M]
        const ct = keep(mm(bt, at)); // Cᵀ [N, M]
        return view(T(ct, [N, M]), outShape);
      }
      if (batchB === 1 && !tA) {
        const x = view(a, [batchA * M, K]); // the batch folds into the rows
        const y = tB ? keep(T(b, b.shape.slice(-2))) : view(b, [K, N]);
        return view(mm(x, y), outShape);
      }
      const needsBroadcastIndex = !(batchA === batchB || batchA === 1 || batchB === 1);
      if (!needsBroadcastIndex && M * K * N < bmmKernelSplitMinMacs()) return orig.kernelFunc(args);
      // One 2-d XNNPACK product per output batch entry.
      const a3 = tA ? keep(T(a, [batchA, K, M])) : view(a, [batchA, M, K]); // [batchA, M, K]
      const b3 = tB ? keep(T(b, [batchB, N, K])) : view(b, [batchB, K, N]); // [batchB, K, N]
      const ia = broadcastBatchIndex(lead, leadA);
      const ib = broadcastBatchIndex(lead, leadB);
      const out = backend.makeOutput(outShape, 'float32');
      const aSlices = new Map<number, tf.TensorInfo>();
      const bSlices = new Map<number, tf.TensorInfo>();
      // A slice is kept while later entries reuse it (broadcast operand), else freed right after use.
      const sliceOf = (cache: Map<number, tf.TensorInfo>, src: tf.TensorInfo, i: number, r: number, c: number): tf.TensorInfo => {
        let s = cache.get(i);
        if (!s) {
          s = sliceFromHeap(backend, src, [i, 0, 0], [1, r, c], [r, c]);
          cache.set(i, s);
        }
        return s;
      };
      const release = (cache: Map<number, tf.TensorInfo>, i: number): void => {
        const s = cache.get(i);
        if (s) backend.disposeData(s.dataId);
        cache.delete(i);
      };
      try {
        for (let o = 0; o < batch; o++) {
          const x = sliceOf(aSlices, a3, ia[o], M, K);
          const y = sliceOf(bSlices, b3, ib[o], K, N);
          const c = mm(x, y); // [M, N]
          // Views are taken after the allocations above: a growing heap replaces the buffer.
          backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(c), o * M * N);
          backend.disposeData(c.dataId);
          if (batchA === batch) release(aSlices, ia[o]);
          if (batchB === batch) release(bSlices, ib[o]);
        }
      } finally {
        for (const i of [...aSlices.keys()]) release(aSlices, i);
        for (const i of [...bSlices.keys()]) release(bSlices, i);
      }
      return out;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };

  (kernelFunc as unknown as Record<symbol, boolean>)[FAST_KERNEL] = true;
  return { kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc };
}

const FAST_KERNEL = Symbol('detrFastBatchMatMul');

/** Whether the registered wasm BatchMatMul is this replacement and it is enabled. */
export function fastBatchMatMulActive(): boolean {
  const k = tf.getKernel('BatchMatMul', 'wasm');
  return enabled && Boolean(k && (k.kernelFunc as unknown as Record<symbol, boolean>)[FAST_KERNEL]);
}
