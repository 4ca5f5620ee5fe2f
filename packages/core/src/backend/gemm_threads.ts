/**
 * Helper threads for gemm_wasm.ts in the threaded wasm build: Node worker threads that instantiate
 * the GEMM module on tfjs-wasm's shared memory and run work lists the calling thread writes there.
 *
 * A product is split by rows (gemm_wasm.ts splitWork), so the threads never write the same output
 * and need no barrier: one start and one join per product, through a control block of five i32 words
 * on the heap ([0] start sequence, [1] done sequence, [2] list byte offset, [3] command count,
 * [4] error flag) with Atomics.wait / notify (futex wake-ups: tens of microseconds, against
 * milliseconds of work for the products that are split, see GEMM_THREAD_MIN_MACS).
 *
 * XNNPACK's own pool (the tfjs pthreads) is idle while a GEMM runs: these helpers take its place for
 * the products gemm_wasm.ts computes. They are unref'd, so they never keep a process alive.
 */
import { Worker } from 'node:worker_threads';
import { type GemmExports, type GemmMemory, type GemmThreadPool, gemmModule, isSharedMemory } from './gemm_wasm';
import { wasmInitResult } from './wasm_node';

/** Products with fewer multiply-adds than this run on the calling thread alone. */
export const GEMM_THREAD_MIN_MACS = 8 * 1024 * 1024;

const CONTROL_WORDS = 5;

const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const c = control >>> 2;
let g;
try {
  g = new WebAssembly.Instance(module, { env: { memory } }).exports;
} catch (e) {
  const w = new Int32Array(memory.buffer);
  Atomics.store(w, c + 1, -1); // tells the caller this helper cannot run
  Atomics.notify(w, c + 1);
  throw e;
}
let seen = 0;
for (;;) {
  Atomics.wait(new Int32Array(memory.buffer), c, seen);
  const w = new Int32Array(memory.buffer); // the heap may have grown since the last job
  seen = Atomics.load(w, c);
  if (seen < 0) break;
  let failed = 0;
  try {
    g.run(w[c + 2], w[c + 3]);
  } catch (e) {
    failed = 1;
  }
  w[c + 4] = failed;
  Atomics.store(w, c + 1, seen);
  Atomics.notify(w, c + 1);
}
`;

interface Helper {
  worker: Worker;
  /** Byte offset of its control block on the heap. */
  control: number;
  seq: number;
}

const pools = new WeakMap<WebAssembly.Memory, { helpers: Helper[] }>();

/**
 * A pool of `size` helper threads on `mem`'s shared memory (created on first use, kept per memory).
 * Null when the memory is not shared (the single-threaded wasm build).
 */
export function gemmThreadPool(mem: GemmMemory, size: number): GemmThreadPool | null {
  if (size < 1 || !isSharedMemory(mem.memory)) return null;
  let state = pools.get(mem.memory);
  if (!state) {
    state = { helpers: [] };
    pools.set(mem.memory, state);
  }
  const helpers = state.helpers;
  while (helpers.length < size) {
    // The control block lives as long as the memory (a few words, never freed).
    const control = mem.alloc(CONTROL_WORDS * 4);
    new Int32Array(mem.memory.buffer, control, CONTROL_WORDS).fill(0);
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module: gemmModule(true), memory: mem.memory, control } });
    worker.unref();
    helpers.push({ worker, control, seq: 0 });
  }
  return {
    size,
    run(g: GemmExports, lists: { ptr: number; count: number }[]): void {
      if (lists.length - 1 > size) throw new Error(`gemm_threads: ${lists.length - 1} helper lists for a pool of ${size}`);
      const started: Helper[] = [];
      for (let t = 1; t < lists.length; t++) {
        const h = helpers[t - 1];
        const w = new Int32Array(mem.memory.buffer);
        const c = h.control >>> 2;
        w[c + 2] = lists[t].ptr;
        w[c + 3] = lists[t].count;
        w[c + 4] = 0;
        h.seq++;
        Atomics.store(w, c, h.seq);
        Atomics.notify(w, c);
        started.push(h);
      }
      let error: unknown = null;
      try {
        g.run(lists[0].ptr, lists[0].count);
      } catch (e) {
        error = e;
      }
      // Join every helper before returning, also after an error here: they write into the same buffers.
      for (const h of started) {
        const c = h.control >>> 2;
        for (;;) {
          const w = new Int32Array(mem.memory.buffer);
          const done = Atomics.load(w, c + 1);
          if (done < 0) {
            error = error ?? new Error('gemm_threads: a helper thread could not instantiate the GEMM module');
            break;
          }
          if (done === h.seq) {
            if (w[c + 4] && !error) error = new Error('gemm_threads: a helper thread trapped while running its GEMM work list');
            break;
          }
          Atomics.wait(w, c + 1, done);
        }
      }
      if (error) throw error;
    },
  };
}

/**
 * The pool a product of `macs` multiply-adds should be split over: the wasm backend's thread count
 * less the calling thread, from GEMM_THREAD_MIN_MACS up; undefined (run here alone) otherwise.
 */
export function gemmPoolFor(mem: GemmMemory, macs: number): GemmThreadPool | undefined {
  const threads = wasmInitResult()?.threads ?? 1;
  return threads > 1 && macs >= GEMM_THREAD_MIN_MACS ? (gemmThreadPool(mem, threads - 1) ?? undefined) : undefined;
}
