/**
 * Float32 GEMM on tfjs-backend-wasm's heap: C = op(A)·op(B) with either operand transposed, through
 * the 4x8 WebAssembly SIMD micro-kernel of gemm_microkernel.ts, packing both operands the way BLIS
 * and XNNPACK do (Goto's scheme: k blocks of KC, row blocks of MC, micro-panels of MR rows and NR
 * columns; at the edges C is computed padded, see gemm()).
 *
 * Why: tfjs-wasm's products run on XNNPACK's wasmsimd GEMM at ~28.5 GFLOP/s on this machine (1024³,
 * 1 thread); this kernel runs at ~40 with the same float operations in the same order, so the same
 * bits (tested against the original kernel), and at 45-49 with the fused kernel (gemmUsesFma, the
 * default where relaxed SIMD compiles). Transposed operands cost nothing extra: the packing reads them
 * in whichever order they are stored; conv2d_wasm.ts packs A from offset tables (gatherA).
 */
import type * as tf from '@tensorflow/tfjs';
import { CMD_COPY, CMD_ZERO, CMD_PACK_A, CMD_PACK_A_GATHER, CMD_PACK_B, CMD_TILES, CMD_TILES_FMA, CMD_WORDS, MR, NR, gemmFunctions } from './gemm_microkernel';
import { wasmMemoryObject } from './memory_guard';
import { relaxedSimdAvailable } from './relaxed_simd';
import { encodeModule } from './wasm_binary';

/** k block: a packed B micro-panel (KC x NR floats, 8 KiB) stays in L1 while a row block streams past it. */
export const KC = 256;
/** Row block: its packed A (MC x KC floats, 256 KiB) stays in L2 across the column panels. */
export const MC = 256;

export interface GemmMemory {
  /** tfjs-wasm's WebAssembly.Memory (shared in the threaded build). */
  memory: WebAssembly.Memory;
  /** Allocates `bytes` on the heap (16-byte aligned), returns its byte offset. */
  alloc(bytes: number): number;
  free(ptr: number): void;
}

interface WasmBackendInternals {
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  getMemoryOffset(dataId: tf.DataId): number;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/**
 * The heap of the wasm backend `backend` for gemm(): its memory object (the threaded build's shared
 * `wasmMemory`, else the module's exported memory) and scratch allocated as backend tensors, so the
 * allocation check and memory guard (memory_guard.ts) see it.
 */
export function gemmMemoryOfBackend(backend: unknown): GemmMemory {
  const be = backend as WasmBackendInternals;
  const memory = wasmMemoryObject(be.wasm);
  if (!memory) throw new Error('gemm_wasm: the wasm backend exposes no memory object (tfjs-backend-wasm internals changed?)');
  const live = new Map<number, tf.TensorInfo>();
  return {
    memory,
    alloc(bytes) {
      const t = be.makeOutput([Math.ceil(bytes / 4)], 'float32');
      const ptr = be.getMemoryOffset(t.dataId);
      live.set(ptr, t);
      return ptr;
    },
    free(ptr) {
      const t = live.get(ptr);
      if (t) be.disposeData(t.dataId);
      live.delete(ptr);
    },
  };
}

/** The module's entry point (gemm_microkernel.ts runFunction; the other exports are called through it). */
export interface GemmExports {
  run(list: number, count: number): void;
}

let fmaWanted = process.env.DETR_WASM_FMA !== '0';

/**
 * Whether products use the fused micro-kernel (c = fma(a, b, c), relaxed SIMD): by default wherever
 * relaxed SIMD compiles (relaxed_simd.ts), unless env DETR_WASM_FMA=0. Without it each step rounds
 * the product and the sum separately, which gives XNNPACK's bits exactly.
 */
export function gemmUsesFma(): boolean {
  return fmaWanted && relaxedSimdAvailable();
}

/** For benchmarks and tests: turns the fused kernel on or off (where available); returns the previous wish. */
export function setGemmFma(on: boolean): boolean {
  const prev = fmaWanted;
  fmaWanted = on;
  return prev;
}

const modules = new Map<boolean, WebAssembly.Module>();
const instances = new WeakMap<WebAssembly.Memory, GemmExports>();

/** The compiled module for a shared or a non-shared memory (compiled once each). */
export function gemmModule(shared: boolean): WebAssembly.Module {
  let m = modules.get(shared);
  if (!m) {
    m = new WebAssembly.Module(encodeModule({ shared, maxPages: 65536 }, gemmFunctions(relaxedSimdAvailable())));
    modules.set(shared, m);
  }
  return m;
}

export const isSharedMemory = (memory: WebAssembly.Memory): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;

/** The module instantiated on `memory` (once per memory). */
export function gemmOn(memory: WebAssembly.Memory): GemmExports {
  let e = instances.get(memory);
  if (!e) {
    const instance = new WebAssembly.Instance(gemmModule(isSharedMemory(memory)), { env: { memory } });
    e = instance.exports as unknown as GemmExports;
    instances.set(memory, e);
  }
  return e;
}

/** One product: byte offsets of A, B and C on the heap. */
export interface GemmEntry {
  a: number;
  b: number;
  c: number;
}

export interface GemmShape {
  /** op(A) is M x K, op(B) is K x N, C is M x N (row-major). */
  M: number;
  K: number;
  N: number;
  /** A stored as K x M (op(A) = Aᵀ). */
  transposeA: boolean;
  /** B stored as N x K. */
  transposeB: boolean;
  /**
   * A given as two offset tables instead (implicit im2col, conv2d_wasm.ts; transposeA is then
   * ignored): op(A)[i, k] is the float at byte entry.a + laneOffsets[i] + kOffsets[k], where the
   * tables are i32 arrays of M and K byte offsets at these heap byte offsets.
   */
  gatherA?: { laneOffsets: number; kOffsets: number };
}

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** Floats of a packed A row block (at most MC rows, MC a multiple of MR) of one k block. */
const packedABlockFloats = (s: GemmShape): number => Math.min(MC, roundUp(s.M, MR)) * Math.min(KC, s.K);

/** Scratch floats one thread needs: a packed A row block, then a packed B k block. */
const threadScratchFloats = (s: GemmShape): number => packedABlockFloats(s) + Math.min(KC, s.K) * roundUp(s.N, NR);

/** A share of one product's row panels: [panelBegin, panelEnd) of entry `entry`. */
interface Segment {
  entry: number;
  panelBegin: number;
  panelEnd: number;
}

/**
 * The work list of one thread: for each of its segments and each k block, pack op(B)'s k block
 * (every column panel; a product split across threads packs it in each), then per row block of at
 * most MC rows pack op(A)'s rows and run the tiles. Every output accumulates k in increasing order
 * through C, whatever the split.
 */
function workList(s: GemmShape, entries: readonly GemmEntry[], cTargets: readonly number[], ldc: number, segments: readonly Segment[], scratch: number): number[] {
  const { M, K, N, transposeA: tA, transposeB: tB } = s;
  const apBuf = scratch;
  const bpBuf = scratch + packedABlockFloats(s) * 4;
  const colPanels = roundUp(N, NR) / NR;
  const blockPanels = MC / MR;
  const fma = gemmUsesFma();
  const out: number[] = [];
  for (const seg of segments) {
    const e = entries[seg.entry];
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0);
      // op(B)[k, j] at b + (tB ? j·K + k : k·N + j) floats
      out.push(CMD_PACK_B, e.b + (tB ? k0 : k0 * N) * 4, tB ? K * 4 : 4, tB ? 4 : N * 4, bpBuf, kc, N, colPanels, 0);
      for (let p0 = seg.panelBegin; p0 < seg.panelEnd; p0 += blockPanels) {
        const panels = Math.min(blockPanels, seg.panelEnd - p0);
        const row0 = p0 * MR;
        if (s.gatherA) {
          out.push(CMD_PACK_A_GATHER, e.a, s.gatherA.laneOffsets + row0 * 4, s.gatherA.kOffsets + k0 * 4, apBuf, kc, M - row0, panels, 0);
        } else {
          // op(A)[i, k] at a + (tA ? k·M + i : i·K + k) floats
          out.push(CMD_PACK_A, e.a + (tA ? row0 + k0 * M : row0 * K + k0) * 4, tA ? 4 : K * 4, tA ? M * 4 : 4, apBuf, kc, M - row0, panels, 0);
        }
        out.push(fma ? CMD_TILES_FMA : CMD_TILES, apBuf, bpBuf, kc, panels, colPanels, cTargets[seg.entry] + row0 * ldc, ldc, k0 > 0 ? 1 : 0);
      }
    }
  }
  return out;
}

/** Splits entries x row panels into `threads` contiguous shares of (nearly) equal size. */
function splitWork(entryCount: number, panelsPerEntry: number, threads: number): Segment[][] {
  const total = entryCount * panelsPerEntry;
  const shares: Segment[][] = [];
  for (let t = 0; t < threads; t++) {
    const begin = Math.floor((t * total) / threads);
    const end = Math.floor(((t + 1) * total) / threads);
    const segs: Segment[] = [];
    for (let g = begin; g < end; ) {
      const entry = Math.floor(g / panelsPerEntry);
      const panelBegin = g - entry * panelsPerEntry;
      const panelEnd = Math.min(panelsPerEntry, panelBegin + (end - g));
      segs.push({ entry, panelBegin, panelEnd });
      g += panelEnd - panelBegin;
    }
    shares.push(segs);
  }
  return shares;
}

/** Runs work lists on helper threads while the calling thread runs the first; see gemm_threads.ts. */
export interface GemmThreadPool {
  /** Helper threads available. */
  readonly size: number;
  /** Runs the list at lists[0] (byte offset, command count) here and lists[1..] on helpers; returns when all are done. */
  run(g: GemmExports, lists: { ptr: number; count: number }[]): void;
}

/**
 * C = op(A)·op(B) for each entry (same shape) on the heap of `mem`, split over `pool`'s threads when
 * given. K must be at least 1. When M or N is not a multiple of the tile (4 x 8), C is computed into
 * a padded scratch copy and its rows copied out.
 */
export function gemm(mem: GemmMemory, s: GemmShape, entries: readonly GemmEntry[], pool?: GemmThreadPool): void {
  const { M, K, N } = s;
  if (M === 0 || N === 0 || entries.length === 0) return;
  if (K < 1) throw new Error(`gemm: K must be at least 1 (got ${K})`);
  const g = gemmOn(mem.memory);
  const Mp = roundUp(M, MR);
  const Np = roundUp(N, NR);
  const padded = Mp !== M || Np !== N;
  const threads = pool ? Math.min(pool.size + 1, entries.length * (Mp / MR)) : 1;
  const perThread = threadScratchFloats(s);
  const scratch = mem.alloc((threads * perThread + (padded ? entries.length * Mp * Np : 0)) * 4);
  try {
    const cPad = scratch + threads * perThread * 4;
    const cTargets = entries.map((e, i) => (padded ? cPad + i * Mp * Np * 4 : e.c));
    const ldc = (padded ? Np : N) * 4;
    const shares = splitWork(entries.length, Mp / MR, threads);
    const lists = shares.map((segs, t) => workList(s, entries, cTargets, ldc, segs, scratch + t * perThread * 4));
    const words = lists.reduce((n, l) => n + l.length, 0);
    const listBuf = mem.alloc(words * 4);
    try {
      const heap = new Int32Array(mem.memory.buffer); // after every allocation: a grown heap replaces the buffer
      let at = listBuf;
      const placed = lists.map((l) => {
        heap.set(l, at >>> 2);
        const p = { ptr: at, count: l.length / CMD_WORDS };
        at += l.length * 4;
        return p;
      });
      if (threads > 1 && pool) pool.run(g, placed);
      else g.run(placed[0].ptr, placed[0].count);
    } finally {
      mem.free(listBuf);
    }
    if (padded) {
      const copies: number[] = [];
      entries.forEach((e, i) => {
        for (let r = 0; r < M; r++) copies.push(...copyCommand(e.c + r * N * 4, cTargets[i] + r * Np * 4, N * 4));
      });
      runCommands(mem, copies);
    }
  } finally {
    mem.free(scratch);
  }
}

/** A CMD_COPY command: `bytes` bytes from src to dst (byte offsets). */
export const copyCommand = (dst: number, src: number, bytes: number): number[] => [CMD_COPY, dst, src, bytes, 0, 0, 0, 0, 0];

/** A CMD_ZERO command: `bytes` zero bytes at dst (byte offset). */
export const zeroCommand = (dst: number, bytes: number): number[] => [CMD_ZERO, dst, bytes, 0, 0, 0, 0, 0, 0];

/** Runs a work list (CMD_WORDS words per command, gemm_microkernel.ts) on the calling thread. */
export function runCommands(mem: GemmMemory, words: readonly number[]): void {
  if (words.length === 0) return;
  const list = mem.alloc(words.length * 4);
  try {
    new Int32Array(mem.memory.buffer).set(words, list >>> 2); // after the allocation: a grown heap replaces the buffer
    gemmOn(mem.memory).run(list, words.length / CMD_WORDS);
  } finally {
    mem.free(list);
  }
}
