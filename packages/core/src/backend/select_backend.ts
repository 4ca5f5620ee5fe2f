/**
 * Backend choice (issue 2). In order: tfjs-node-gpu ('tensorflow' with CUDA, only with a GPU),
 * tfjs-node ('tensorflow' on CPU), wasm (SIMD + threads: the CPU backend of choice where tfjs-node
 * cannot install), then the pure-JS cpu backend (tests on small tensors only). Optional packages are
 * imported dynamically, so a missing one is just skipped. The chosen backend and the reason each
 * better one was skipped are logged.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { installFastKernels } from './fast_kernels';
import { gemmUsesFma } from './gemm_wasm';
import { relaxedMaddFuses } from './relaxed_simd';
import { WasmMemoryGuard, installWasmAllocationCheck } from './memory_guard';
import { installWasmHeapCheck } from './wasm_heap_check';
import { WasmConfigError, defaultWasmThreads, initWasmBackend, initialisedBackend, type PoolSpinSetting } from './wasm_node';

const require = createRequire(import.meta.url);

export type BackendKind = 'node-gpu' | 'node' | 'wasm' | 'cpu';
/** Names accepted by `backend:`; 'tensorflow' is node-gpu when a GPU is present, else node. */
export const BACKEND_NAMES = ['node-gpu', 'node', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface SkippedBackend {
  name: string;
  reason: string;
}

export interface BackendInfo {
  /** tfjs backend name now active: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  kind: BackendKind;
  threads?: number;
  simd?: boolean;
  skipped: SkippedBackend[];
  /** Per-step memory check for the trainer: the wasm budget guard; a no-op on other backends. */
  memoryCheck: (context: string) => void;
}

export interface SelectBackendOptions {
  /** Force one backend (default: env DETR_BACKEND, else automatic). */
  backend?: string;
  /** wasm threads (default: env DETR_WASM_THREADS, else every logical core). */
  threads?: number;
  /** wasm thread-pool spin-wait (default: env DETR_WASM_POOL_SPIN, else 10,000; see wasm_pool_spin.ts). */
  poolSpinIterations?: PoolSpinSetting;
  log?: (line: string) => void;
  /** wasm memory budget for memoryCheck (default 3.5 GiB or env DETR_WASM_MEMORY_LIMIT_MB). */
  memoryLimitBytes?: number;
}

class SkipError extends Error {}

function packageInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** A visible NVIDIA GPU (the only kind tfjs-node-gpu uses), or the reason there is none. */
export function detectGpu(): { present: boolean; reason: string } {
  if (process.platform !== 'linux' && process.platform !== 'win32') return { present: false, reason: `no CUDA on ${process.platform}` };
  if (process.platform === 'linux' && !fs.existsSync('/dev/nvidia0') && !fs.existsSync('/proc/driver/nvidia/version')) {
    return { present: false, reason: 'no GPU (no /dev/nvidia0, no NVIDIA driver)' };
  }
  return { present: true, reason: '' };
}

async function loadNodePackage(pkg: string): Promise<void> {
  if (!packageInstalled(pkg)) throw new SkipError(`not installed (optional dependency ${pkg})`);
  try {
    await import(pkg);
  } catch (err) {
    throw new SkipError(`failed to load ${pkg}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (tf.findBackendFactory('tensorflow') == null) throw new SkipError(`${pkg} loaded but registered no 'tensorflow' backend`);
  const ok = await tf.setBackend('tensorflow');
  if (!ok) throw new SkipError(`${pkg} loaded but its 'tensorflow' backend failed to initialise`);
}

interface Chosen {
  kind: BackendKind;
  threads?: number;
  requestedThreads?: number;
  simd?: boolean;
}

async function tryKind(kind: BackendKind, threads: number, poolSpinIterations?: PoolSpinSetting): Promise<Chosen> {
  switch (kind) {
    case 'node-gpu': {
      const gpu = detectGpu();
      if (!gpu.present) throw new SkipError(gpu.reason);
      await loadNodePackage('@tensorflow/tfjs-node-gpu');
      return { kind };
    }
    case 'node':
      await loadNodePackage('@tensorflow/tfjs-node');
      return { kind };
    case 'wasm': {
      try {
        const r = await initWasmBackend({ threads, poolSpinIterations });
        return { kind, threads: r.threads, requestedThreads: r.requestedThreads, simd: r.simd };
      } catch (err) {
        if (err instanceof WasmConfigError) throw err; // a setup conflict, not an unusable backend
        throw new SkipError(`failed to initialise: ${(err as Error).message}`);
      }
    }
    case 'cpu': {
      const ok = await tf.setBackend('cpu');
      if (!ok) throw new SkipError("tf.setBackend('cpu') failed");
      return { kind };
    }
  }
}

function candidatesFor(requested: BackendName | undefined): BackendKind[] {
  switch (requested) {
    case undefined:
      return ['node-gpu', 'node', 'wasm', 'cpu'];
    case 'tensorflow':
      return ['node-gpu', 'node'];
    default:
      return [requested];
  }
}

function parseRequested(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '' || value === 'auto') return undefined;
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new Error(`unknown backend '${value}': use one of ${BACKEND_NAMES.join(', ')} (or leave it unset for automatic choice)`);
  }
  return value as BackendName;
}

function parseThreads(opt: number | undefined): number {
  if (opt !== undefined) {
    if (!Number.isInteger(opt) || opt < 1) throw new Error(`threads must be a positive integer, got ${opt}`);
    return opt;
  }
  const env = process.env.DETR_WASM_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`DETR_WASM_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return defaultWasmThreads();
}

function describe(c: Chosen): string {
  if (c.kind === 'wasm') {
    const asked = c.requestedThreads !== undefined && c.requestedThreads !== c.threads ? `; ${c.requestedThreads} requested${c.simd ? '' : ', threads need SIMD'}` : '';
    const fma = gemmUsesFma() ? (relaxedMaddFuses() ? ', fused multiply-add' : ', relaxed SIMD madd (not fused here)') : '';
    return `wasm (${c.simd ? 'SIMD' : 'no SIMD'}, ${c.threads} thread${c.threads === 1 ? '' : 's'}${asked}${fma})`;
  }
  if (c.kind === 'node-gpu') return 'tensorflow (tfjs-node-gpu, CUDA)';
  if (c.kind === 'node') return 'tensorflow (tfjs-node, CPU)';
  return 'cpu (pure JS: slow, meant for tests on small tensors)';
}

/**
 * Chooses, initialises and activates a backend, installs the fast kernels/gradients, and returns what
 * was chosen, with the reasons the better ones were skipped. A forced backend that cannot be used
 * throws, naming the reason.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const requested = parseRequested(opts.backend ?? process.env.DETR_BACKEND);
  const threads = parseThreads(opts.threads);
  const skipped: SkippedBackend[] = [];
  let chosen: Chosen | null = null;
  for (const kind of candidatesFor(requested)) {
    try {
      chosen = await tryKind(kind, threads, opts.poolSpinIterations);
      break;
    } catch (err) {
      if (!(err instanceof SkipError)) throw err;
      skipped.push({ name: kind, reason: err.message });
    }
  }
  if (!chosen) {
    const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
    throw new Error(`backend '${requested}' was requested but cannot be used (${why})`);
  }
  installFastKernels();
  let memoryCheck: (context: string) => void = () => {};
  if (chosen.kind === 'wasm') {
    installWasmAllocationCheck({ limitBytes: opts.memoryLimitBytes });
    // Debugging aid: walk the heap's regions after every kernel to find one that writes out of bounds.
    if (process.env.DETR_WASM_HEAP_CHECK === '1') installWasmHeapCheck();
    const guard = new WasmMemoryGuard({ limitBytes: opts.memoryLimitBytes });
    memoryCheck = (context: string) => {
      guard.check(context);
    };
  }
  log(`[backend] using ${describe(chosen)}${requested ? ` (requested '${requested}')` : ''}`);
  for (const s of skipped) log(`[backend]   skipped ${s.name}: ${s.reason}`);
  return { name: tf.getBackend(), kind: chosen.kind, threads: chosen.threads, simd: chosen.simd, skipped, memoryCheck };
}

/** The active backend's name without initialising one (tf.getBackend() would pick and start one). */
export function activeBackendName(): string | null {
  return (tf.engine() as unknown as { backendName: string | null }).backendName ?? null;
}

/**
 * Runs `fn` with backend `name` ('cpu' | 'wasm' | 'tensorflow') active, then restores the previous
 * one. wasm is set up through initWasmBackend (threads as `opts.threads`, default all cores), and the
 * fast kernels are installed. For tests that run one check on several backends.
 */
export async function withBackend<T>(name: 'cpu' | 'wasm' | 'tensorflow', fn: () => T | Promise<T>, opts: { threads?: number } = {}): Promise<T> {
  const prev = activeBackendName();
  if (name === 'wasm') {
    await initWasmBackend({ threads: opts.threads });
    installWasmAllocationCheck();
  } else if (name === 'cpu' || initialisedBackend(name) != null) {
    if (!(await tf.setBackend(name))) throw new Error(`withBackend: tf.setBackend('${name}') failed`);
  } else {
    await selectBackend({ backend: name, log: () => {} });
  }
  installFastKernels();
  try {
    return await fn();
  } finally {
    if (prev && prev !== name) await tf.setBackend(prev);
  }
}
