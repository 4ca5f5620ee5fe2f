/**
 * BatchMatMul kernel for wasm: float32 products run on gemm_wasm.ts's WebAssembly SIMD GEMM (every
 * transpose flag and batch broadcast, straight from the operands' heap offsets), so any tf.matMul
 * (model code, tfjs's own gradients) is fast, not only ops/matmul's.
 *
 * tfjs-backend-wasm 4.22 (src/cc/batch_mat_mul_impl.cc) uses XNNPACK's fully-connected operator only
 * when no transpose flag is set and both batch sizes are 1; otherwise a scalar blocked loop runs
 * (measured here: transposeA ~60-95x, transposeB ~13x slower on 1024³; batched attention products
 * 13-14x slower). Its JS side also allocates max(batchA, batchB) output matrices, so broadcasting
 * [2,1,...] against [3,...] reads and writes past the buffers (wrong values; checked on this machine).
 * XNNPACK's GEMM itself runs at ~28.5 GFLOP/s on this machine (1024³, 1 thread), gemm_wasm's at ~39
 * with the same float operations in the same order (the same bits), 45-49 with its fused multiply-add
 * (the default where relaxed SIMD compiles). The original kernel keeps plain
 * 2-d products below OWN_GEMM_MIN_MACS or with fewer than 8 columns, and every non-float32 product.
 */
import * as tf from '@tensorflow/tfjs';
import { NR } from './gemm_microkernel';
import { gemmPoolFor } from './gemm_threads';
import { markReplacement, originalWasmKernel, replacementRegistered } from './replaced_kernel';
import { gemm, gemmMemoryOfBackend, type GemmEntry } from './gemm_wasm';

interface WasmBackendLike {
  getMemoryOffset(dataId: tf.DataId): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** Multiply-adds (M·K·N) from which a plain 2-d product runs on gemm_wasm rather than XNNPACK. */
export const OWN_GEMM_MIN_MACS = 16 * 16 * 16;

let ownGemmMinMacs: number | null = null;

/** For benchmarks and tests: the plain 2-d products' threshold (Infinity: all to XNNPACK; null: default). */
export function setOwnGemmMinMacs(macs: number | null): number | null {
  const prev = ownGemmMinMacs;
  ownGemmMinMacs = macs;
  return prev;
}

/**
 * Whether a plain product (2-d, no flag: the one case XNNPACK takes) stays on XNNPACK: below the
 * threshold, or with fewer than NR (8) columns, where half of gemm_wasm's tiles would be padding
 * (bench: [600,256]·[256,4] 0.10 ms on XNNPACK against 0.14).
 */
function plainProductStaysOnXnnpack(M: number, K: number, N: number): boolean {
  return N < NR || M * K * N < (ownGemmMinMacs ?? OWN_GEMM_MIN_MACS);
}

let enabled = true;

/** For benchmarks and tests: false makes the kernel pass everything to tfjs-wasm's own. */
export function setFastBatchMatMulEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

const prod = (s: number[]): number => s.reduce((p, v) => p * v, 1);

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
  const orig = originalWasmKernel('BatchMatMul', 'batch_matmul_wasm');

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
    const plain = batch === 1 && !tA && !tB;
    if (K === 0 || batch === 0 || M === 0 || N === 0 || (plain && plainProductStaysOnXnnpack(M, K, N))) return orig.kernelFunc(args);

    // Straight from the operands' heap offsets: the packing reads transposed operands as stored.
    const out = backend.makeOutput([...lead, M, N], 'float32');
    const at = backend.getMemoryOffset(a.dataId);
    const bt = backend.getMemoryOffset(b.dataId);
    const ct = backend.getMemoryOffset(out.dataId);
    const mem = gemmMemoryOfBackend(args.backend);
    const pool = gemmPoolFor(mem, batch * M * K * N);
    if (batchB === 1 && !tA) {
      // shared right operand: the batch folds into the rows, [batchA·M, K]·op(B)
      gemm(mem, { M: batchA * M, K, N, transposeA: false, transposeB: tB }, [{ a: at, b: bt, c: ct }], pool);
      return out;
    }
    const ia = broadcastBatchIndex(lead, leadA);
    const ib = broadcastBatchIndex(lead, leadB);
    const entries: GemmEntry[] = [];
    for (let o = 0; o < batch; o++) entries.push({ a: at + ia[o] * M * K * 4, b: bt + ib[o] * K * N * 4, c: ct + o * M * N * 4 });
    gemm(mem, { M, K, N, transposeA: tA, transposeB: tB }, entries, pool);
    return out;
  };

  return { kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc: markReplacement(kernelFunc) };
}

/** Whether the registered wasm BatchMatMul is this replacement and it is enabled. */
export function fastBatchMatMulActive(): boolean {
  return enabled && replacementRegistered('BatchMatMul');
}
