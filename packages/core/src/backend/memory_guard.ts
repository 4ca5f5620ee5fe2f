/**
 * Memory guard for the wasm backend. Its heap is wasm32 memory: at most 4 GiB, it never shrinks, and
 * tfjs-backend-wasm 4.22 does not check `_malloc`'s result: when the heap is full, the next tensor gets
 * address 0 and silently overwrites live tensors (PERF-NOTES "Memory (wasm)"). Two defences:
 *  - `installWasmAllocationCheck()`: `_malloc` returning 0 for a non-empty tensor throws at once;
 *  - `WasmMemoryGuard.check()` (the trainer calls it every step): stops with a clear error when the
 *    heap's high-water mark (which bounds the live tensors and includes each step's peak) passes a
 *    budget kept below the cap (default 3.5 GiB), so a run ends with advice before any allocation can
 *    fail.
 */
import * as tf from '@tensorflow/tfjs';
import { initialisedBackend } from './wasm_node';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** wasm32 addresses 4 GiB; tfjs-backend-wasm is built with MAXIMUM_MEMORY = 4 GiB. */
export const WASM_HEAP_CAP_BYTES = 4 * GiB;
/** Default budget: a heap high-water mark above this stops the run. */
export const DEFAULT_WASM_MEMORY_LIMIT_BYTES = 3.5 * GiB;

export class WasmMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmMemoryError';
  }
}

export interface WasmMemoryStatus {
  backend: string;
  /** Bytes of live tensors (tf.memory().numBytes: a buffer shared by several tensors, e.g. reshapes, counts once per tensor). */
  liveTensorBytes: number;
  numTensors: number;
  /** Current size of the wasm heap (its high-water mark: it never shrinks); 0 off wasm. */
  heapBytes: number;
  limitBytes: number;
}

export interface WasmModuleMemory {
  wasmMemory?: { buffer: ArrayBufferLike };
  asm?: { memory?: { buffer: ArrayBufferLike } };
  HEAPU8?: Uint8Array;
  _malloc?: (n: number) => number;
}

function wasmModule(): WasmModuleMemory | null {
  const backend = initialisedBackend('wasm') as unknown as { wasm?: WasmModuleMemory } | null;
  return backend?.wasm ?? null;
}

/**
 * The module's whole heap as bytes: the memory object itself where the module exports it (the
 * threaded build's `wasmMemory`: `HEAPU8` can be stale after another thread grew the heap), else the
 * raw exports' memory, else HEAPU8 (the single-threaded build keeps it current).
 */
export function wasmHeapBuffer(m: WasmModuleMemory): ArrayBufferLike | null {
  return wasmMemoryObject(m)?.buffer ?? m.HEAPU8?.buffer ?? null;
}

/** The module's memory object: the threaded build's `wasmMemory`, else the raw exports' memory. */
export function wasmMemoryObject<T extends { buffer: ArrayBufferLike }>(m: { wasmMemory?: T; asm?: { memory?: T } }): T | undefined {
  return m.wasmMemory ?? m.asm?.memory;
}

/** Current byte size of the wasm heap, or 0 when the wasm backend is not initialised. */
export function wasmHeapBytes(): number {
  const m = wasmModule();
  return m ? (wasmHeapBuffer(m)?.byteLength ?? 0) : 0;
}

function fmt(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}

const ADVICE =
  'Reduce the memory a step needs: a smaller input size (e.g. dataloader min/max size 512-640), a smaller ' +
  'batch per step with gradient accumulation (train.grad_accum_steps), fewer queries/feature levels, ' +
  'activation checkpointing (+model.backbone.activation_checkpoint=true, +model.transformer.encoder.activation_checkpoint=true, ' +
  '+model.transformer.decoder.activation_checkpoint=true in DINO-family configs), or run frozen parts (stem, frozen stages) ' +
  'outside the gradient tape. The wasm heap cannot exceed 4 GiB.';

export interface WasmMemoryGuardOptions {
  /** Budget in bytes (default 3.5 GiB, or env DETR_WASM_MEMORY_LIMIT_MB). */
  limitBytes?: number;
}

function defaultLimit(): number {
  const env = process.env.DETR_WASM_MEMORY_LIMIT_MB;
  if (env !== undefined && env !== '') {
    const mb = Number(env);
    if (!Number.isFinite(mb) || mb <= 0) throw new Error(`DETR_WASM_MEMORY_LIMIT_MB must be a positive number of MiB, got '${env}'`);
    return mb * MiB;
  }
  return DEFAULT_WASM_MEMORY_LIMIT_BYTES;
}

/**
 * Per-step guard. `check(context)` returns the status, or throws WasmMemoryError naming the context,
 * the memory in use, the limit and what to reduce. Off the wasm backend it only reports.
 */
export class WasmMemoryGuard {
  readonly limitBytes: number;
  /** Largest live-tensor byte count seen by check(). */
  peakLiveBytes = 0;

  constructor(opts: WasmMemoryGuardOptions = {}) {
    const limit = opts.limitBytes ?? defaultLimit();
    if (!(limit > 0)) throw new Error(`WasmMemoryGuard: limitBytes must be positive, got ${limit}`);
    if (limit > WASM_HEAP_CAP_BYTES) throw new Error(`WasmMemoryGuard: limitBytes ${fmt(limit)} is above the wasm heap cap of 4 GiB`);
    this.limitBytes = limit;
  }

  status(): WasmMemoryStatus {
    const mem = tf.memory();
    return {
      backend: tf.getBackend(),
      liveTensorBytes: mem.numBytes,
      numTensors: mem.numTensors,
      heapBytes: tf.getBackend() === 'wasm' ? wasmHeapBytes() : 0,
      limitBytes: this.limitBytes,
    };
  }

  check(context = 'memory check'): WasmMemoryStatus {
    const s = this.status();
    this.peakLiveBytes = Math.max(this.peakLiveBytes, s.liveTensorBytes);
    if (s.backend !== 'wasm') return s;
    // Live tensors sit in the heap, so the heap size (its high-water mark: it never shrinks) bounds
    // them; it also covers the peak inside a step, which live bytes after the step do not show. Live
    // bytes serve only if the heap size cannot be read.
    const used = s.heapBytes > 0 ? s.heapBytes : s.liveTensorBytes;
    if (used > this.limitBytes) {
      throw new WasmMemoryError(
        `wasm memory budget exceeded (${context}): the wasm heap has grown to ${fmt(used)} (its peak use so far; ` +
          `${s.numTensors} live tensors of ${fmt(s.liveTensorBytes)}, shared buffers counted per tensor), above the limit of ${fmt(this.limitBytes)}; ` +
          'at 4 GiB allocations fail and tensors get corrupted. If live tensors grow every step, tensors are leaking ' +
          '(missing tf.tidy/dispose). ' + ADVICE,
      );
    }
    return s;
  }
}

/** One-off check with a fresh guard (see WasmMemoryGuard). */
export function checkWasmMemory(context?: string, opts: WasmMemoryGuardOptions = {}): WasmMemoryStatus {
  return new WasmMemoryGuard(opts).check(context);
}

const CHECKED = Symbol('detrMallocChecked');

/** The parts of an emscripten module the allocation check uses. */
export interface MallocModule extends WasmModuleMemory {
  /** The raw wasm exports (emscripten 3.1: `Module.asm`). */
  asm?: { malloc?: (n: number) => number; memory?: { buffer: ArrayBufferLike } };
}

/**
 * Wraps a wasm module's `_malloc` so that (a) a failed allocation (0 for a non-empty request) throws a
 * WasmMemoryError instead of letting tfjs alias address 0, and (b) an allocation that grows the heap
 * past `limitBytes` (default: the guard's budget) throws one too, in the middle of a step, before the
 * heap reaches its 4 GiB cap (where allocations inside C++ kernels abort the process).
 * The raw export `asm.malloc` is wrapped, not `Module._malloc` itself: emscripten's `_malloc` is a lazy
 * stub that replaces itself (`Module._malloc = Module.asm.malloc`) on its first call, which silently
 * dropped a wrapper around the stub. Exported for tests with a fake module.
 */
export function wrapMallocWithCheck(module: MallocModule, opts: WasmMemoryGuardOptions = {}): void {
  const current = module._malloc;
  if (typeof current !== 'function') throw new Error('wrapMallocWithCheck: the wasm module has no _malloc (tfjs internals changed?)');
  if ((current as unknown as Record<symbol, boolean>)[CHECKED]) return;
  const raw = module.asm?.malloc ?? current;
  const limit = opts.limitBytes ?? defaultLimit();
  const checked = (n: number): number => {
    const ptr = raw(n);
    if (ptr === 0 && n > 0) {
      throw new WasmMemoryError(
        `wasm heap exhausted: allocating ${fmt(n)} failed (heap ${fmt(wasmHeapBytes())} of at most 4 GiB, live tensors ` +
          `${fmt(tf.memory().numBytes)}). ` + ADVICE,
      );
    }
    const heap = wasmHeapBuffer(module)?.byteLength ?? 0;
    if (heap > limit) {
      throw new WasmMemoryError(
        `wasm memory budget exceeded: allocating ${fmt(n)} grew the wasm heap to ${fmt(heap)}, above the limit of ${fmt(limit)} ` +
          `(${tf.memory().numTensors} live tensors of ${fmt(tf.memory().numBytes)}, shared buffers counted per tensor); at 4 GiB allocations fail and the process aborts. ` + ADVICE,
      );
    }
    return ptr;
  };
  (checked as unknown as Record<symbol, boolean>)[CHECKED] = true;
  module._malloc = checked;
}

/** Installs the `_malloc` check on the initialised wasm backend (no-op when wasm is not initialised). */
export function installWasmAllocationCheck(opts: WasmMemoryGuardOptions = {}): boolean {
  const m = wasmModule();
  if (!m) return false;
  wrapMallocWithCheck(m, opts);
  return true;
}
