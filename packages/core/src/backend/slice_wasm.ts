/**
 * Slice / Unpack / SplitV / StridedSlice kernels for wasm that copy only the selected elements.
 *
 * tfjs-backend-wasm 4.22's Slice kernel (src/kernels/Slice.ts) starts with `backend.readSync(x)`, which
 * copies the WHOLE input out of the heap (HEAPU8.slice) on every call, and Unpack, SplitV and the
 * simple-slice branch of StridedSlice call that Slice once per output. Unstacking a [16,1024,1024]
 * tensor thus copied 16 x 64 MiB: ~2 s against ~0.1 s for one pass over the data (measured on this
 * machine; it made up 45% of a transformer layer's fwd+bwd). These kernels read the input in place
 * (typedArrayFromHeap) and copy contiguous runs with TypedArray.set. Strings and the non-contiguous
 * StridedSlice branch (C++) go to the original kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { originalWasmKernel } from './replaced_kernel';

type TypedArray = Float32Array | Int32Array | Uint8Array;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): TypedArray;
}

/**
 * Copies x[begin : begin+size] (per axis) into a new tensor of shape `outShape` (default `size`;
 * same element count). `begin`/`size` must be explicit (no -1).
 */
export function sliceFromHeap(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[], outShape: number[] = size): tf.TensorInfo {
  const out = backend.makeOutput(outShape, x.dtype); // allocate before taking views (the heap may grow)
  const total = size.reduce((p, v) => p * v, 1);
  if (total === 0) return out;
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const shape = x.shape;
  const rank = shape.length;
  if (rank === 0) {
    ov[0] = xv[0];
    return out;
  }
  const strides = tf.util.computeStrides(shape);
  // k: the last axis not taken whole; everything after it is one contiguous run per index of axes < k.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size[k] * (k + 1 < rank ? strides[k] : 1);
  const stepK = k + 1 < rank ? strides[k] : 1;
  const idx = new Array<number>(k).fill(0); // odometer over axes 0..k-1
  let outOff = 0;
  for (;;) {
    let src = begin[k] * stepK;
    for (let d = 0; d < k; d++) src += (begin[d] + idx[d]) * strides[d];
    ov.set(xv.subarray(src, src + run), outOff);
    outOff += run;
    let d = k - 1;
    while (d >= 0) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) break;
  }
  return out;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];

const original = (kernelName: string): tf.KernelConfig => originalWasmKernel(kernelName, 'slice_wasm');

/** Replacement configs, each built around the original wasm kernel (for strings and rare branches). */
export function fastSliceKernels(): tf.KernelConfig[] {
  const origSlice = original('Slice');
  const origStrided = original('StridedSlice');

  const slice: KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return origSlice.kernelFunc(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    return sliceFromHeap(args.backend as unknown as WasmBackendLike, x, b, s);
  };

  const unpack: KernelFunc = (args) => {
    const { value } = args.inputs as { value: tf.TensorInfo };
    if (value.dtype === 'string') return original('Unpack').kernelFunc(args);
    let { axis } = args.attrs as unknown as { axis: number };
    if (axis < 0) axis += value.shape.length;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = value.shape.map(() => 0);
    const size = [...value.shape];
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      begin[axis] = i;
      outs.push(sliceFromHeap(args.backend as unknown as WasmBackendLike, value, begin, size, outShape));
    }
    return outs;
  };

  const splitV: KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return original('SplitV').kernelFunc(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = x.shape.map(() => 0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const out = sliceFromHeap(args.backend as unknown as WasmBackendLike, x, begin, size);
      begin[ax] += s;
      return out;
    });
  };

  const stridedSlice: KernelFunc = (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const a = args.attrs as unknown as {
      begin: number[];
      end: number[];
      strides: number[];
      beginMask: number;
      endMask: number;
      ellipsisMask: number;
      newAxisMask: number;
      shrinkAxisMask: number;
    };
    if (x.dtype === 'string') return origStrided.kernelFunc(args);
    const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
    // Same branches as tfjs-backend-wasm's StridedSlice; only the contiguous one is replaced.
    if (info.isIdentity || !(info.sliceDim0 || info.isSimpleSlice)) return origStrided.kernelFunc(args);
    const size = tf.slice_util.computeOutShape(info.begin, info.end, info.strides).map((v) => Math.max(0, v));
    return sliceFromHeap(args.backend as unknown as WasmBackendLike, x, info.begin, size, info.finalShape);
  };

  return [
    { kernelName: 'Slice', backendName: 'wasm', kernelFunc: slice },
    { kernelName: 'Unpack', backendName: 'wasm', kernelFunc: unpack },
    { kernelName: 'SplitV', backendName: 'wasm', kernelFunc: splitV },
    { kernelName: 'StridedSlice', backendName: 'wasm', setupFunc: origStrided.setupFunc, kernelFunc: stridedSlice },
  ];
}
