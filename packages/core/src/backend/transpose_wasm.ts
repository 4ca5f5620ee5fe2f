/**
 * Transpose for wasm that avoids tfjs-wasm's slow generic path. Its C++ kernel is fast up to rank 4 but
 * computes every element's index separately above (measured: [2,1024,3,8,32] with perm [2,0,3,1,4]
 * 100 ms, against 4 ms for the same data as three rank-4 transposes). This kernel first drops size-1
 * axes and merges input axes that stay adjacent in the permutation (e.g. [0,3,1,2,4] is rank 4 after
 * merging 1,2), hands rank <= 4 to the original kernel, and otherwise, when the last axis stays last,
 * copies contiguous runs of it in JS straight between heap views.
 */
import * as tf from '@tensorflow/tfjs';

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

export function fastTransposeKernel(): tf.KernelConfig {
  const orig = tf.getKernel('Transpose', 'wasm');
  if (!orig) throw new Error('transpose_wasm: no wasm Transpose kernel registered (tfjs-backend-wasm 4.22.0 not loaded?)');
  const kernelFunc: tf.KernelConfig['kernelFunc'] = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as unknown as { perm: number[] };
    if (x.shape.length <= 4 || x.dtype === 'string') return orig.kernelFunc(args);
    const outShape = perm.map((p) => x.shape[p]);
    const r = simplifyTranspose(x.shape, perm);
    const rank = r.shape.length;
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
