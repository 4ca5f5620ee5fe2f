/**
 * `installFastKernels()`: every gradient override and extra kernel that makes training on the wasm
 * backend complete and fast (PERF-NOTES "Gaps in tfjs-backend-wasm 4.22 for training"). Idempotent;
 * the backend setup (selectBackend / withBackend) calls it. The overrides are backend-aware (see
 * gradient_override.ts): on tfjs-node the upstream gradients stay in use where a fast one exists.
 * `fastKernelList()` lists each with its reason (for docs/performance.md).
 */
import * as tf from '@tensorflow/tfjs';
import { comparisonGradOverrides } from './comparison_grads';
import { conv2dBackpropInputGradOverride, conv2dGradOverride } from './conv2d_grad';
import { depthwiseConv2dGradOverride } from './depthwise_conv2d_grad';
import { type GradientOverride, installGradientOverride } from './gradient_override';
import { gatherNdGradOverride, stridedSliceGradOverride, topKGradOverride } from './indexing_grads';
import { batchMatMulGradOverride } from './matmul_grad';
import { reluGradOverride } from './relu_grad';
import { installTapeRelease } from './tape_release';
import { fastBatchMatMulKernel } from './batch_matmul_wasm';
import { fastSliceKernels } from './slice_wasm';
import { fastTransposeKernel } from './transpose_wasm';
import { sharedIdentityKernel } from './identity_wasm';
import { leadingAxesSumKernel } from './sum_wasm';
import { unsortedSegmentSumWasmKernel } from './unsorted_segment_sum_wasm';
import { conv2dBackpropFilterWasmKernel, ownConv2dKernel } from './conv2d_wasm';

export interface FastKernelEntry {
  /** Kernel name (tfjs kernel_names). */
  name: string;
  type: 'gradient' | 'kernel';
  /** Backends where it is used ('all' for every backend). */
  backends: readonly string[] | 'all';
  why: string;
}

interface KernelEntry {
  config: tf.KernelConfig;
  why: string;
}

function gradientOverrides(): GradientOverride[] {
  return [
    conv2dGradOverride,
    conv2dBackpropInputGradOverride,
    depthwiseConv2dGradOverride,
    batchMatMulGradOverride,
    reluGradOverride,
    gatherNdGradOverride,
    topKGradOverride,
    stridedSliceGradOverride,
    ...comparisonGradOverrides(),
  ];
}

const KERNELS: KernelEntry[] = [
  {
    config: unsortedSegmentSumWasmKernel,
    why: "missing on wasm; it is gather's gradient. A plain-JS loop over the wasm heap (exact, O(x.size), no copy to cpu)",
  },
  {
    config: conv2dBackpropFilterWasmKernel,
    why: "missing on wasm; the Conv2D filter gradient dW = colsᵀ·dy on gemm_wasm's GEMM, the patch matrix packed straight from the input (implicit im2col, conv2d_wasm.ts)",
  },
];

/** wasm kernels replaced because tfjs-wasm's are far slower than they need be (slice_wasm, batch_matmul_wasm, transpose_wasm). */
const REPLACED_WASM_KERNELS: { name: string; why: string }[] = [
  { name: 'Slice', why: "wasm's Slice copies the WHOLE input out of the heap on every call (readSync); reads it in place instead" },
  { name: 'Unpack', why: 'one whole-input copy per output (via Slice): unstack of [16,1024,1024] took ~2 s; now one pass' },
  { name: 'SplitV', why: 'one whole-input copy per output (via Slice); now one pass' },
  { name: 'StridedSlice', why: 'its contiguous branch goes through the copying Slice; that branch now reads in place' },
  {
    name: 'BatchMatMul',
    why:
      'XNNPACK only without transpose flags and with batch 1 (else a scalar loop, 13-95x slower), and its GEMM runs at ~28.5 GFLOP/s; ' +
      'float32 products run on gemm_wasm (WebAssembly SIMD 4x8 micro-kernel, 45-49 GFLOP/s with relaxed SIMD FMA, ~39 and XNNPACK\'s bits without; any flag or broadcast, ' +
      'split over helper threads), with correct [2,1]x[3] batch broadcasting (the original overruns its buffers)',
  },
  {
    name: 'Conv2D',
    why:
      "XNNPACK's convolution runs at ~29 GFLOP/s; float32 NHWC convs run on gemm_wasm's GEMM with an implicit im2col " +
      "(conv2d_wasm.ts: XNNPACK's bits without the fused multiply-add, split over helper threads)",
  },
  {
    name: 'Identity',
    why:
      'copies its input, and the engine clones (Identity) every tensor it saves for backward, so each saved ' +
      'activation was held twice; shares the buffer with a reference count instead, as the cpu backend does',
  },
  {
    name: 'Transpose',
    why:
      'rank >= 5 takes a per-element generic path (25x slower than rank 4) and matrix transposes stride through memory (~10 ns per element); ' +
      'axes merged first, matrix transposes (batched or not) as a cache-blocked JS copy, contiguous runs copied in JS',
  },
  {
    name: 'Sum',
    why: "reduces non-innermost axes through its slow C++ transpose (bias gradients: 33 ms for [2048,2048]); sums over leading axes add rows in JS, same order and bits",
  },
];

let installed = false;
let wasmReplaced = false;

/**
 * Replaces the wasm kernels of REPLACED_WASM_KERNELS (once). Needs the wasm package's kernels to be
 * registered (importing @tensorflow/tfjs-backend-wasm does that); returns false when they are not yet.
 */
export function installWasmKernelReplacements(): boolean {
  if (wasmReplaced) return true;
  if (tf.getKernel('Slice', 'wasm') == null) return false;
  for (const config of [...fastSliceKernels(), fastBatchMatMulKernel(), ownConv2dKernel(), fastTransposeKernel(), sharedIdentityKernel(), leadingAxesSumKernel()]) {
    tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
  wasmReplaced = true;
  return true;
}

/**
 * Installs every override and kernel. Idempotent: gradients and added kernels once per process; the
 * wasm replacements as soon as the wasm package is loaded (initWasmBackend calls this again after).
 */
export function installFastKernels(): void {
  if (!installed) {
    for (const o of gradientOverrides()) installGradientOverride(o);
    for (const { config } of KERNELS) {
      if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
    }
    installTapeRelease();
    installed = true;
  }
  installWasmKernelReplacements();
}

export function fastKernelsInstalled(): boolean {
  return installed;
}

/** Every override/kernel installFastKernels provides, with why. */
export function fastKernelList(): FastKernelEntry[] {
  return [
    ...gradientOverrides().map((o) => ({ name: o.kernelName, type: 'gradient' as const, backends: o.backends, why: o.why })),
    ...KERNELS.map(({ config, why }) => ({ name: config.kernelName, type: 'kernel' as const, backends: [config.backendName], why })),
    ...REPLACED_WASM_KERNELS.map(({ name, why }) => ({ name, type: 'kernel' as const, backends: ['wasm'], why })),
  ];
}
