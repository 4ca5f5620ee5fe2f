/**
 * Transpose for wasm that avoids tfjs-wasm's slow paths. Its C++ kernel computes every element's index
 * separately above rank 4 (measured: [2,1024,3,8,32] with perm [2,0,3,1,4] 100 ms, against 4 ms for the
 * same data as three rank-4 transposes), and swaps two axes with a plain loop whose writes (or reads)
 * stride through memory (~10 ns per element: [16,1024,1024] with perm [0,2,1] 176 ms). This kernel
 * first drops size-1 axes and merges input axes that stay adjacent in the permutation (e.g. [0,3,1,2,4]
 * is rank 4 after merging 1,2); a swap of the last two of the merged axes (perm [1,0] or [0,2,1]: matrix
 * transposes, batched or not) runs a cache-blocked copy in JS (1.2-2.5 ns per element); when the last
 * axis stays last above rank 4 it copies contiguous runs of it in JS; the rest goes to the original.
 */
import * as tf from '@tensorflow/tfjs';
import { originalWasmKernel } from './replaced_kernel';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Shortest innermost run copied in JS; shorter runs go to the C++ kernel. */
const MIN_JS_RUN = 8;

/**
 * Equivalent smaller transpose: size-1 axes dropped, runs of input axes that stay consecutive in
 * `perm` merged. Returns the reduced input shape and permutation.
 */
export function simplifyTranspose(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  const kept = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const renum = new Map(kept.map((axis, i) => [axis, i]));
  const s1 = kept.map((i) => shape[i]);
  const p1 = perm.filter((p) => shape[p] !== 1).map((p) => renum.get(p) as number);
  // Groups of consecutive input axes, in output order.
  const groups: number[][] = [];
  for (const p of p1) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === p) last.push(p);
    else groups.push([p]);
  }
  const byInput = [...groups].sort((a, b) => a[0] - b[0]);
  const newShape = byInput.map((g) => g.reduce((acc, a) => acc * s1[a], 1));
  const newPerm = groups.map((g) => byInput.indexOf(g));
  return { shape: newShape, perm: newPerm };
}

/** Side of the square tiles of the blocked matrix transpose (measured best of 8-64 on this machine). */
const TILE = 16;

/** Smallest rows and columns of a matrix transposed in JS; thinner ones go to the C++ kernel. */
const MIN_JS_MATRIX_SIDE = 4;

/**
 * out[b, j, i] = x[b, i, j] for `batch` matrices [rows, cols] stored one after the other. Tiles of
 * TILE x TILE; inside a tile four input rows are read at once so that each output row gets four
 * consecutive elements per pass (the order that measured fastest on V8).
 */
export function transposeMatricesInto<T extends Float32Array | Int32Array | Uint8Array>(x: T, out: T, batch: number, rows: number, cols: number): void {
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * size;
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        let i = i0;
        for (; i + 4 <= i1; i += 4) {
          let s = base + i * cols + j0;
          let d = base + j0 * rows + i;
          for (let j = j0; j < j1; j++) {
            out[d] = x[s];
            out[d + 1] = x[s + cols];
            out[d + 2] = x[s + 2 * cols];
            out[d + 3] = x[s + 3 * cols];
            s++;
            d += rows;
          }
        }
        for (; i < i1; i++) {
          let s = base + i * cols + j0;
          let d = base + j0 * rows + i;
          for (let j = j0; j < j1; j++) {
            out[d] = x[s++];
            d += rows;
          }
        }
      }
    }
  }
}

export function fastTransposeKernel(): tf.KernelConfig {
  const orig = originalWasmKernel('Transpose', 'transpose_wasm');
  const kernelFunc: tf.KernelConfig['kernelFunc'] = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if (x.dtype === 'string') return orig.kernelFunc(args);
    const outShape = perm.map((p) => x.shape[p]);
    const r = simplifyTranspose(x.shape, perm);
    const rank = r.shape.length;
    const matrixSwap = (rank === 2 && r.perm[0] === 1) || (rank === 3 && r.perm[0] === 0 && r.perm[1] === 2);
    if (matrixSwap && Math.min(r.shape[rank - 1], r.shape[rank - 2]) >= MIN_JS_MATRIX_SIDE) {
      const backend = args.backend as unknown as WasmBackendLike;
      const out = backend.makeOutput(outShape, x.dtype); // allocate before taking views (the heap may grow)
      const [batch, rows, cols] = rank === 3 ? r.shape : [1, ...r.shape]; // x viewed as [batch, rows, cols]
      transposeMatricesInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), batch, rows, cols);
      return out;
    }
    if (x.shape.length <= 4) return orig.kernelFunc(args);
    if (rank <= 4) {
      const out = orig.kernelFunc({ ...args, inputs: { x: { dataId: x.dataId, shape: r.shape, dtype: x.dtype } }, attrs: { perm: r.perm } }) as tf.TensorInfo;
      return { dataId: out.dataId, shape: outShape, dtype: out.dtype };
    }
    const run = r.shape[rank - 1];
    if (r.perm[rank - 1] !== rank - 1 || run < MIN_JS_RUN) return orig.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(outShape, x.dtype); // allocate before taking views
    const xv = backend.typedArrayFromHeap(x);
    const ov = backend.typedArrayFromHeap(out);
    const inStrides = [...tf.util.computeStrides(r.shape), 1];
    const dims = r.perm.map((p) => r.shape[p]); // reduced output shape
    const src = r.perm.map((p) => inStrides[p]); // input stride of each output axis
    const idx = new Array<number>(rank - 1).fill(0);
    let outOff = 0;
    for (;;) {
      let s = 0;
      for (let d = 0; d < rank - 1; d++) s += idx[d] * src[d];
      ov.set(xv.subarray(s, s + run), outOff);
      outOff += run;
      let d = rank - 2;
      while (d >= 0) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
        d--;
      }
      if (d < 0) break;
    }
    return out;
  };
  return { kernelName: 'Transpose', backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc };
}
