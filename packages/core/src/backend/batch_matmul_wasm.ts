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
 *  - shared right operand (batch > 1, batchB = 1, no transposeA): one [batchA·M, K]·[K, N] product;
 *  - batch > 1, small entries (bmmKernelSplitMinMacs()) without broadcasting: the original loop, faster
 *    there than per-entry operator setup;
 *  - otherwise one 2-d product per output batch entry (of slices, broadcast indices computed here; at
 *    batch 1 of the operands themselves), with the flagged operands made explicit by the registered
 *    Transpose kernel (transpose_wasm's blocked copy), or as Cᵀ = op(B)ᵀ·op(A)ᵀ when that moves fewer
 *    elements (swapIsCheaper).
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

/**
 * XNNPACK's fully-connected operator packs its right operand ("weights", [K, N] here) on every call
 * with a new tensor, reading it transposed: measured on this machine 2.7 ns per element for 1024x1024
 * and 12 ns for 2048x2048, against 1.2-4 ns for transpose_wasm's blocked transpose (and the left
 * operand is read as it is). So a packed element counts this many transposed ones.
 */
export const PACK_COST = 2;

/**
 * For C = op(A)·op(B) with a transpose flag set: whether Cᵀ = op(B)ᵀ·op(A)ᵀ (the flagged operands
 * used as stored, the others transposed, op(A)ᵀ packed, C transposed back) costs fewer element moves
 * than op(A)·op(B) (the flagged operands transposed, op(B) packed). E.g. a linear layer's dW = xᵀ·dy
 * with x [2048, 256] and dy [2048, 2048] swaps (dy is transposed once instead of packed transposed);
 * attention's Wᵀ·dO with W [16,1024,1024] and dO [16,1024,32] does not (one blocked transpose of W
 * beats packing it).
 */
export function swapIsCheaper(tA: boolean, tB: boolean, batchA: number, batchB: number, batch: number, M: number, K: number, N: number): boolean {
  const direct = (tA ? batchA * M * K : 0) + (tB ? batchB * K * N : 0) + PACK_COST * batch * K * N;
  const swapped = (tA ? 0 : batchA * M * K) + (tB ? 0 : batchB * K * N) + PACK_COST * batch * M * K + batch * M * N;
  return swapped < direct;
}

export function fastBatchMatMulKernel(): tf.KernelConfig {
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  if (!orig || !tf.getKernel('Transpose', 'wasm')) throw new Error('batch_matmul_wasm: the wasm BatchMatMul/Transpose kernels are not registered (tfjs-backend-wasm 4.22.0 not loaded?)');

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
    /** Swaps the last two axes of t (viewed with `shape`) through the registered wasm Transpose kernel (transpose_wasm's blocked copy). */
    const T = (t: tf.TensorInfo, shape: number[]): tf.TensorInfo => {
      const r = shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
      return (tf.getKernel('Transpose', 'wasm') as tf.KernelConfig).kernelFunc({ inputs: { x: view(t, shape) }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
    };

    /**
     * out[o] = x[ix[o]]·y[iy[o]] for o < n, x [*, rows, K], y [*, K, cols] -> [n, rows, cols], one 2-d
     * XNNPACK product per entry (n = 1: on the operands themselves). A slice is kept while later entries
     * reuse it (broadcast operand), else freed right after use.
     */
    const perEntryProducts = (x3: tf.TensorInfo, y3: tf.TensorInfo, ix: Int32Array, iy: Int32Array, n: number, rows: number, k: number, cols: number, xPerEntry: boolean, yPerEntry: boolean): tf.TensorInfo => {
      if (n === 1) return mm(view(x3, [rows, k]), view(y3, [k, cols]));
      const out = backend.makeOutput([n, rows, cols], 'float32');
      const xSlices = new Map<number, tf.TensorInfo>();
      const ySlices = new Map<number, tf.TensorInfo>();
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
        for (let o = 0; o < n; o++) {
          const c = mm(sliceOf(xSlices, x3, ix[o], rows, k), sliceOf(ySlices, y3, iy[o], k, cols)); // [rows, cols]
          // Views are taken after the allocations above: a growing heap replaces the buffer.
          backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(c), o * rows * cols);
          backend.disposeData(c.dataId);
          if (xPerEntry) release(xSlices, ix[o]);
          if (yPerEntry) release(ySlices, iy[o]);
        }
      } finally {
        for (const i of [...xSlices.keys()]) release(xSlices, i);
        for (const i of [...ySlices.keys()]) release(ySlices, i);
      }
      return out;
    };

    try {
      if (batch === 1 && !tA && !tB) return orig.kernelFunc(args);
      if (batch > 1 && batchB === 1 && !tA) {
        const x = view(a, [batchA * M, K]); // the batch folds into the rows
        const y = tB ? keep(T(b, b.shape.slice(-2))) : view(b, [K, N]);
        return view(mm(x, y), outShape);
      }
      const needsBroadcastIndex = !(batchA === batchB || batchA === 1 || batchB === 1);
      if (batch > 1 && !needsBroadcastIndex && M * K * N < bmmKernelSplitMinMacs()) return orig.kernelFunc(args);
      const ia = broadcastBatchIndex(lead, leadA);
      const ib = broadcastBatchIndex(lead, leadB);
      // One 2-d XNNPACK product per output batch entry, of explicit [rows, K]·[K, cols] operands: either
      // op(A)·op(B) with the flagged operands transposed, or Cᵀ = op(B)ᵀ·op(A)ᵀ (operands flagged as
      // transposed are then used as stored) and one transpose of the result (swapIsCheaper).
      if (!swapIsCheaper(tA, tB, batchA, batchB, batch, M, K, N)) {
        const a3 = tA ? keep(T(a, [batchA, K, M])) : view(a, [batchA, M, K]); // [batchA, M, K]
        const b3 = tB ? keep(T(b, [batchB, N, K])) : view(b, [batchB, K, N]); // [batchB, K, N]
        return view(perEntryProducts(a3, b3, ia, ib, batch, M, K, N, batchA === batch, batchB === batch), outShape);
      }
      const bt = tB ? view(b, [batchB, N, K]) : keep(T(b, [batchB, K, N])); // op(B)ᵀ [batchB, N, K]
      const at = tA ? view(a, [batchA, K, M]) : keep(T(a, [batchA, M, K])); // op(A)ᵀ [batchA, K, M]
      const ct = keep(perEntryProducts(bt, at, ib, ia, batch, N, K, M, batchB === batch, batchA === batch)); // Cᵀ [batch, N, M]
      return view(T(ct, [batch, N, M]), outShape);
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
