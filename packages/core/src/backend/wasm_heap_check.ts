/**
 * Heap-integrity checking for the wasm backend (a debugging aid: `DETR_WASM_HEAP_CHECK=1`).
 *
 * tfjs-backend-wasm 4.22 is linked with emscripten's emmalloc (system/lib/emmalloc.c): the heap is a
 * run of adjacent regions, each `<size:u32> payload <size:u32>`; a used region's two size words are
 * equal, a free region's ceiling word has bit 0 set (FREE_REGION_FLAG). A kernel that writes past its
 * output overwrites the next region's size words, and malloc later fails far from the culprit
 * ("memory access out of bounds" inside malloc). This module wraps every wasm kernel: after each call
 * it walks the regions from the lowest address JS allocated and stops at the first inconsistent
 * region, naming the kernel that just ran, its input shapes and attributes.
 * Slow (a walk per kernel): for finding a corrupting kernel, never for training.
 */
import * as tf from '@tensorflow/tfjs';
import { installWasmAllocationCheck, wasmHeapBuffer, type WasmModuleMemory } from './memory_guard';
import { initialisedBackend } from './wasm_node';

const FREE_REGION_FLAG = 1;
/** Heap growth logged per kernel call. */
const GROWTH_LOG_BYTES = 128 * 2 ** 20;

interface EmmallocModule extends WasmModuleMemory {
  /** The raw exports: `_malloc`/`_free` start as lazy stubs that replace themselves on first call. */
  asm?: { free?: (p: number) => void; memory?: { buffer: ArrayBufferLike } };
  _malloc: (n: number) => number;
  _free: (p: number) => void;
}

export class WasmHeapCorruptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmHeapCorruptionError';
  }
}

/** A region that breaks emmalloc's invariants, or null when the walk found none. */
export interface HeapDefect {
  region: number;
  what: string;
}

/**
 * Walks emmalloc regions upwards from each start address (region addresses = payload - 4) until a
 * zero size (the end of a region block). Returns the first defect found.
 */
export function walkEmmallocRegions(heap: Uint8Array, starts: number[]): HeapDefect | null {
  const u32 = new Uint32Array(heap.buffer, heap.byteOffset, heap.byteLength >>> 2);
  const limit = heap.byteLength;
  const sorted = [...starts].sort((a, b) => a - b);
  let walkedTo = 0;
  for (const start of sorted) {
    if (start < walkedTo) continue; // already covered by an earlier walk
    let r = start;
    while (r + 8 <= limit) {
      const size = u32[r >>> 2];
      if (size === 0) break; // block sentinel
      if (size & 3 || size < 16) return { region: r, what: `size word ${size} is not a region size` };
      if (r + size > limit) return { region: r, what: `size ${size} runs past the heap end (${limit})` };
      const ceiling = u32[(r + size - 4) >>> 2];
      if ((ceiling & ~FREE_REGION_FLAG) >>> 0 !== size) return { region: r, what: `floor size ${size} != ceiling size ${ceiling & ~FREE_REGION_FLAG} (ceiling word ${ceiling})` };
      r += size;
    }
    walkedTo = r;
  }
  return null;
}

function describeCall(name: string, args: Parameters<tf.KernelFunc>[0]): string {
  const inputs = Object.entries(args.inputs as Record<string, tf.TensorInfo | undefined>)
    .map(([k, t]) => `${k}: ${t ? `${t.dtype}[${t.shape.join(',')}]` : 'none'}`)
    .join(', ');
  let attrs = '';
  try {
    attrs = JSON.stringify(args.attrs ?? {});
  } catch {
    attrs = '(unprintable)';
  }
  return `${name}(${inputs}) attrs ${attrs}`;
}

/**
 * Installs the check on the initialised wasm backend: tracks JS-side `_malloc`/`_free` and wraps every
 * registered wasm kernel. Returns the number of kernels wrapped (0 when wasm is not initialised).
 */
export function installWasmHeapCheck(log: (line: string) => void = console.error): number {
  const backend = initialisedBackend('wasm') as unknown as { wasm?: EmmallocModule } | null;
  const m = backend?.wasm;
  if (!m) return 0;
  const live = new Set<number>();
  installWasmAllocationCheck(); // replaces emscripten's self-replacing `_malloc` stub: wrappers stay put
  const malloc = m._malloc;
  const free = m.asm?.free ?? m._free;
  m._malloc = (n: number): number => {
    const p = malloc.call(m, n);
    if (p) live.add(p >>> 0);
    return p;
  };
  m._free = (p: number): void => {
    live.delete(p >>> 0);
    free.call(m, p);
  };
  const heap = (): Uint8Array => new Uint8Array(wasmHeapBuffer(m) as ArrayBufferLike);
  let last = 'backend initialisation';
  let heapSeen = heap().byteLength;
  const check = (after: string): void => {
    const defect = walkEmmallocRegions(heap(), [...live].map((p) => p - 4));
    if (defect) {
      throw new WasmHeapCorruptionError(
        `wasm heap corrupted: region at ${defect.region}: ${defect.what}; found after ${after} (the call before it: ${last}). ` +
          'That call wrote outside its buffers.',
      );
    }
  };
  let wrapped = 0;
  for (const cfg of tf.getKernelsForBackend('wasm')) {
    const orig = cfg.kernelFunc;
    tf.unregisterKernel(cfg.kernelName, 'wasm');
    tf.registerKernel({
      ...cfg,
      kernelFunc: (args) => {
        const call = describeCall(cfg.kernelName, args);
        check(`JS code before ${call}`);
        let out: ReturnType<typeof orig>;
        try {
          out = orig(args);
        } catch (err) {
          const heapBytes = heap().byteLength;
          const defect = walkEmmallocRegions(heap(), [...live].map((p) => p - 4));
          log(`[wasm] ${call} threw with a heap of ${(heapBytes / 2 ** 20).toFixed(1)} MiB, ${live.size} JS allocations; region walk: ${defect ? `${defect.what} at ${defect.region}` : 'consistent'}`);
          throw err;
        }
        check(call);
        const grown = heap().byteLength;
        if (grown >= heapSeen + GROWTH_LOG_BYTES) {
          const mem = tf.memory();
          log(`[wasm] heap ${(heapSeen / 2 ** 20).toFixed(0)} -> ${(grown / 2 ** 20).toFixed(0)} MiB in ${call}; live tensors ${(mem.numBytes / 2 ** 20).toFixed(0)} MiB in ${mem.numTensors}`);
          heapSeen = grown;
        }
        last = call;
        return out;
      },
    });
    wrapped++;
  }
  log(`[wasm] heap check on: ${wrapped} kernels wrapped; every call walks the heap's regions (slow; debugging only)`);
  return wrapped;
}
