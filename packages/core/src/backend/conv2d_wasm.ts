/**
 * Conv2D and Conv2DBackpropFilter (NHWC, float32) for the wasm backend on gemm_wasm.ts's GEMM with an
 * implicit im2col: the patch matrix is never written; its micro-panels are packed straight from the
 * (padded) input through two offset tables (gemm_microkernel.ts packGather),
 *   cols[p, t] = xpad[pixelOffset[p] + tapOffset[t]]   (byte offsets)
 *   pixelOffset[(n·Ho + i)·Wo + j] = ((n·Hp + i·sh)·Wp + j·sw)·C·4
 *   tapOffset[(a·kw + b)·C + c]    = ((a·dh)·Wp + b·dw)·C·4 + c·4
 * so that, with the HWIO filter read as W [kh·kw·C, Cout] (its storage order):
 *   forward:  y [N·Ho·Wo, Cout] = cols · W               (A lanes: pixels, k: taps)
 *   filter gradient: dW [kh·kw·C, Cout] = colsᵀ · dy      (A lanes: taps, k: pixels)
 * The forward sums k = (a, b, c) in increasing order from zero, as XNNPACK's convolution does (its
 * indirect GEMM runs the taps in order, each over the channels), so the output is the same bits
 * (tested); the filter gradient sums pixels in order, as the im2col product it replaces did.
 *
 * Why: tfjs-wasm's Conv2D is XNNPACK's convolution, ~29 GFLOP/s on this machine (1 thread), and wasm
 * has no Conv2DBackpropFilter (conv2d_grad.ts built it from a JS im2col pass and a product, ~24 ms
 * for 3x3 64->64 on 2x64x64 where the forward took 21 ms). The GEMM runs at ~39 GFLOP/s and splits
 * over helper threads (gemm_threads.ts) where XNNPACK's conv backward pieces did not scale.
 */
import * as tf from '@tensorflow/tfjs';
import { type Conv2DAttrs, type Conv2DInfo, conv2dInfo } from './conv2d_grad';
import { NR } from './gemm_microkernel';
import { gemmPoolFor } from './gemm_threads';
import { type GemmMemory, copyCommand, gemm, gemmMemoryOfBackend, runCommands, zeroCommand } from './gemm_wasm';
import { OWN_GEMM_MIN_MACS } from './batch_matmul_wasm';
import { markReplacement, originalWasmKernel, replacementRegistered } from './replaced_kernel';

interface WasmBackendLike {
  getMemoryOffset(dataId: tf.DataId): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

let enabled = true;

/** For benchmarks and tests: false sends Conv2D back to XNNPACK and the filter gradient to im2col + product. */
export function setOwnConvEnabled(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

export function ownConvEnabled(): boolean {
  return enabled;
}

/** The padded input's byte offset on the heap and its padded height and width. */
interface PaddedInput {
  at: number;
  hp: number;
  wp: number;
}

/**
 * x [N,H,W,C] at byte `x` with the zero padding of `info` (a scratch copy on the heap when any side is
 * padded; x itself otherwise).
 */
function paddedInput(mem: GemmMemory, x: number, shape: number[], info: Conv2DInfo): PaddedInput {
  const [n, h, w, c] = shape;
  const { top, bottom, left, right } = info.padInfo;
  const [pt, pb, pl, pr] = [top, bottom, left, right].map((v) => Math.max(0, v));
  if (pt + pb + pl + pr === 0) return { at: x, hp: h, wp: w };
  const hp = h + pt + pb;
  const wp = w + pl + pr;
  const at = mem.alloc(n * hp * wp * c * 4);
  // In wasm (memory.fill / memory.copy): JS's fill and copyWithin are ~3x slower on a shared heap.
  const words = zeroCommand(at, n * hp * wp * c * 4);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) words.push(...copyCommand(at + ((b * hp + y + pt) * wp + pl) * c * 4, x + (b * h + y) * w * c * 4, w * c * 4)); // row y of image b
  }
  runCommands(mem, words);
  return { at, hp, wp };
}

/** Writes the two offset tables (see the file comment) at byte offsets `pixels` and `taps`. */
function writeOffsetTables(mem: GemmMemory, info: Conv2DInfo, c: number, p: PaddedInput, pixels: number, taps: number): void {
  const { batchSize: n, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const heap = new Int32Array(mem.memory.buffer);
  let o = pixels >>> 2;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) heap[o++] = ((b * p.hp + i * sh) * p.wp + j * sw) * c * 4;
    }
  }
  o = taps >>> 2;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let ch = 0; ch < c; ch++) heap[o++] = (a * dh * p.wp + b * dw) * c * 4 + ch * 4;
    }
  }
}

/**
 * One implicit-im2col product on the heap: the offset tables and padded input in scratch, then the
 * GEMM with A gathered. `pixelLanes`: forward (A rows are output pixels); otherwise the filter
 * gradient (A rows are taps, k runs over pixels). B and C are byte offsets.
 */
function convGemm(backend: unknown, x: tf.TensorInfo, info: Conv2DInfo, pixelLanes: boolean, b: number, c: number): void {
  const be = backend as WasmBackendLike;
  const mem = gemmMemoryOfBackend(backend);
  const cin = x.shape[3];
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const taps = info.filterHeight * info.filterWidth * cin;
  const cout = info.outChannels;
  const xAt = be.getMemoryOffset(x.dataId);
  const tables = mem.alloc((pixels + taps) * 4);
  let paddedAt = xAt;
  try {
    const padded = paddedInput(mem, xAt, x.shape, info);
    paddedAt = padded.at;
    const pixelTable = tables;
    const tapTable = tables + pixels * 4;
    writeOffsetTables(mem, info, cin, padded, pixelTable, tapTable);
    const [M, K] = pixelLanes ? [pixels, taps] : [taps, pixels];
    const gatherA = pixelLanes ? { laneOffsets: pixelTable, kOffsets: tapTable } : { laneOffsets: tapTable, kOffsets: pixelTable };
    const pool = gemmPoolFor(mem, M * K * cout);
    gemm(mem, { M, K, N: cout, transposeA: false, transposeB: false, gatherA }, [{ a: padded.at, b, c }], pool);
  } finally {
    mem.free(tables);
    if (paddedAt !== xAt) mem.free(paddedAt);
  }
}

/** Conv2D for wasm: float32 NHWC on the GEMM; other dtypes, NCHW, fewer than 8 output channels and tiny convs on XNNPACK. */
export function ownConv2dKernel(): tf.KernelConfig {
  const orig = originalWasmKernel('Conv2D', 'conv2d_wasm');
  const kernelFunc: tf.KernelConfig['kernelFunc'] = (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const a = args.attrs as unknown as Conv2DAttrs;
    if (!enabled || x.dtype !== 'float32' || filter.dtype !== 'float32' || a.dataFormat === 'NCHW') return orig.kernelFunc(args);
    const info = conv2dInfo(x.shape, filter.shape, a);
    const macs = info.batchSize * info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels * info.outChannels;
    if (info.outChannels < NR || macs < OWN_GEMM_MIN_MACS || info.outHeight * info.outWidth === 0) return orig.kernelFunc(args);
    const be = args.backend as unknown as WasmBackendLike;
    const out = be.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    convGemm(args.backend, x, info, true, be.getMemoryOffset(filter.dataId), be.getMemoryOffset(out.dataId));
    return out;
  };
  return { kernelName: 'Conv2D', backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc: markReplacement(kernelFunc) };
}

/** Whether the registered wasm Conv2D is ownConv2dKernel's and it is enabled. */
export function ownConv2dActive(): boolean {
  return enabled && replacementRegistered('Conv2D');
}

/**
 * Conv2DBackpropFilter for wasm (tfjs-wasm has none): inputs x [N,H,W,C] and dy [N,Ho,Wo,Cout], attrs
 * as tfjs's (strides, pad, dataFormat, dimRoundingMode, filterShape) plus an optional `dilations`
 * (conv2d_grad.ts passes it; tfjs's own kernel has none). float32 NHWC only.
 */
export const conv2dBackpropFilterWasmKernel: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as Conv2DAttrs & { filterShape: number[] };
    if (x.dtype !== 'float32' || dy.dtype !== 'float32' || a.dataFormat === 'NCHW') {
      throw new Error(`Conv2DBackpropFilter (wasm): only float32 NHWC is supported; got ${x.dtype} / ${dy.dtype}, dataFormat ${a.dataFormat}`);
    }
    const info = conv2dInfo(x.shape, a.filterShape, a);
    const expected = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    if (dy.shape.join() !== expected.join()) {
      throw new Error(`Conv2DBackpropFilter (wasm): dy has shape [${dy.shape}], the conv of x [${x.shape}] with filter [${a.filterShape}] gives [${expected}]`);
    }
    const be = backend as unknown as WasmBackendLike;
    const out = be.makeOutput(a.filterShape, 'float32'); // [kh, kw, C, Cout] = [kh·kw·C, Cout]
    if (info.batchSize * info.outHeight * info.outWidth === 0) {
      runCommands(gemmMemoryOfBackend(backend), zeroCommand(be.getMemoryOffset(out.dataId), tf.util.sizeFromShape(a.filterShape) * 4)); // no pixels: dW = 0
      return out;
    }
    convGemm(backend, x, info, false, be.getMemoryOffset(dy.dataId), be.getMemoryOffset(out.dataId));
    return out;
  },
};
