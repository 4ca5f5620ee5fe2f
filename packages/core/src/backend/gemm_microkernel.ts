/**
 * The GEMM micro-kernel of gemm_wasm.ts, written as a WebAssembly module (wasm_binary.ts) that works
 * on tfjs-backend-wasm's own heap (its memory is imported), so operands are never copied out.
 *
 * kernel(ap, bp, kc, c, ldc, acc): C[MR x NR] (+)= Ap · Bp for one tile, where
 *   ap: packed A micro-panel, kc steps of MR floats (A[i..i+MR), k] for k in the block);
 *   bp: packed B micro-panel, kc steps of NR floats (B[k, j..j+NR));
 *   c:  the tile's top-left float in C, rows ldc bytes apart;
 *   acc: 0 to start from zero, 1 to continue from C's values (a later k block).
 * Each output is a running float32 sum c = c + a·b (separate multiply and add, k in increasing
 * order): the same operations in the same order as XNNPACK's wasmsimd GEMM and as a plain loop, so
 * the result is the same bits (tested). The `fused` variant (kernelFma) computes c = fma(a, b, c)
 * with relaxed SIMD's f32x4.relaxed_madd instead: one rounding per step (as PyTorch's CPU kernels,
 * which use FMA), ~30 % faster (~52 GFLOP/s against ~40; see gemm_wasm.ts gemmUsesFma).
 *
 * Shape: MR = 4 rows by NR = 8 columns, 8 v128 accumulators. Measured on this machine (1024³, 1
 * thread): 4x8 runs at ~40 GFLOP/s against XNNPACK's ~28.5; 6x8, 5x8, 4x12 and 3x16 (12 or more
 * accumulators) at 24-28 GFLOP/s because V8's register allocator then spills; unrolling k by 2
 * halved the speed for the same reason.
 */
import { I32, V128, type FunctionDef, type ValType, op } from './wasm_binary';

export const MR = 4;
export const NR = 8;

/** Function indices in the module (gemmFunctions' order). */
const FN = { kernel: 0, packA: 1, packB: 2, tiles: 3, packGather: 4, run: 5, kernelFma: 6, tilesFma: 7 } as const;

/** Helper: appends instruction byte arrays to a function body. */
function bodyWriter(): { body: number[]; emit: (...parts: number[][]) => void } {
  const body: number[] = [];
  return { body, emit: (...parts) => parts.forEach((p) => body.push(...p)) };
}

export function microKernelFunction(fused = false): FunctionDef {
  const NV = NR / 4; // v128 vectors per tile row
  // Parameter and local indices.
  const [ap, bp, kc, c, ldc, acc] = [0, 1, 2, 3, 4, 5];
  const bend = 6;
  const row = 7;
  const x = 8;
  const b = (v: number): number => 9 + v;
  const cc = (r: number, v: number): number => 9 + NV + r * NV + v;
  const locals: ValType[] = [I32, I32, V128, ...Array<ValType>(NV).fill(V128), ...Array<ValType>(MR * NV).fill(V128)];

  const { body, emit } = bodyWriter();
  // bend = bp + kc * NR * 4
  emit(op.localGet(bp), op.localGet(kc), op.i32Const(NR * 4), op.i32Mul, op.i32Add, op.localSet(bend));
  // if (acc) load C into the accumulators (they start at zero otherwise)
  emit(op.localGet(acc), op.if, op.localGet(c), op.localSet(row));
  for (let r = 0; r < MR; r++) {
    for (let v = 0; v < NV; v++) emit(op.localGet(row), op.v128Load(16 * v), op.localSet(cc(r, v)));
    emit(op.localGet(row), op.localGet(ldc), op.i32Add, op.localSet(row));
  }
  emit(op.end);
  // do { b = Bp[k]; for r: x = splat(Ap[k][r]); c[r] = c[r] + x * b; ap += MR*4; bp += NR*4 } while (bp != bend)
  emit(op.loop);
  for (let v = 0; v < NV; v++) emit(op.localGet(bp), op.v128Load(16 * v), op.localSet(b(v)));
  for (let r = 0; r < MR; r++) {
    emit(op.localGet(ap), op.v128Load32Splat(4 * r), op.localSet(x));
    for (let v = 0; v < NV; v++) {
      if (fused) emit(op.localGet(x), op.localGet(b(v)), op.localGet(cc(r, v)), op.f32x4RelaxedMadd, op.localSet(cc(r, v)));
      else emit(op.localGet(cc(r, v)), op.localGet(x), op.localGet(b(v)), op.f32x4Mul, op.f32x4Add, op.localSet(cc(r, v)));
    }
  }
  emit(op.localGet(ap), op.i32Const(MR * 4), op.i32Add, op.localSet(ap));
  emit(op.localGet(bp), op.i32Const(NR * 4), op.i32Add, op.localSet(bp));
  emit(op.localGet(bp), op.localGet(bend), op.i32Ne, op.brIf(0), op.end);
  // store the tile
  emit(op.localGet(c), op.localSet(row));
  for (let r = 0; r < MR; r++) {
    for (let v = 0; v < NV; v++) emit(op.localGet(row), op.localGet(cc(r, v)), op.v128Store(16 * v));
    emit(op.localGet(row), op.localGet(ldc), op.i32Add, op.localSet(row));
  }
  return { name: fused ? 'kernelFma' : 'kernel', params: 6, locals, body };
}

/**
 * pack(src, laneStride, kStride, dst, kc, valid, panels): packs `panels` micro-panels of `lanes`
 * lanes each (MR rows of A, or NR columns of B): dst[p][k][l] = src[(p·lanes + l)·laneStride +
 * k·kStride] (strides in bytes), for k < kc. Lanes at or past `valid` repeat lane valid-1: they only
 * feed padded rows / columns of C, which are never read, and every load stays inside the operand.
 * Either storage order of either operand is a choice of the two strides. Scalar f32 copies: ~1 ns per
 * element less than the same loop in JS, and packing is ~5 % of a large product.
 */
export function packFunction(name: string, lanes: number): FunctionDef {
  const [src, laneStride, kStride, dst, kc, valid, panels] = [0, 1, 2, 3, 4, 5, 6];
  const p = 7;
  const k = 8;
  const ptr = (l: number): number => 9 + l;
  const { body, emit } = bodyWriter();
  emit(op.loop); // panels
  for (let l = 0; l < lanes; l++) {
    // lane = p·lanes + l; ptr_l = src + (lane < valid ? lane : valid - 1) · laneStride
    const lane = [op.localGet(p), op.i32Const(lanes), op.i32Mul, op.i32Const(l), op.i32Add];
    emit(op.localGet(src), ...lane, op.localGet(valid), op.i32Const(1), op.i32Sub, ...lane, op.localGet(valid), op.i32LtU, op.select);
    emit(op.localGet(laneStride), op.i32Mul, op.i32Add, op.localSet(ptr(l)));
  }
  emit(op.localGet(kc), op.localSet(k), op.loop);
  for (let l = 0; l < lanes; l++) {
    emit(op.localGet(dst), op.localGet(ptr(l)), op.f32Load(0), op.f32Store(4 * l));
    emit(op.localGet(ptr(l)), op.localGet(kStride), op.i32Add, op.localSet(ptr(l)));
  }
  emit(op.localGet(dst), op.i32Const(4 * lanes), op.i32Add, op.localSet(dst));
  emit(op.localGet(k), op.i32Const(1), op.i32Sub, op.localSet(k), op.localGet(k), op.brIf(0), op.end);
  emit(op.localGet(p), op.i32Const(1), op.i32Add, op.localSet(p), op.localGet(p), op.localGet(panels), op.i32Ne, op.brIf(0), op.end);
  return { name, params: 7, locals: [I32, I32, ...Array<ValType>(lanes).fill(I32)], body };
}

/**
 * packGather(base, laneOffsets, kOffsets, dst, kc, valid, panels): packs `panels` A micro-panels of
 * MR lanes from an operand that is a sum of two offset tables (implicit im2col, conv2d_wasm.ts):
 * dst[p][k][l] = f32 at base + laneOffsets[p·MR + l] + kOffsets[k] (i32 byte offsets on the heap),
 * for k < kc. Lanes at or past `valid` repeat lane valid-1, as in pack.
 */
export function packGatherFunction(): FunctionDef {
  const [base, laneOffsets, kOffsets, dst, kc, valid, panels] = [0, 1, 2, 3, 4, 5, 6];
  const [p, k, kp, off] = [7, 8, 9, 10];
  const ptr = (l: number): number => 11 + l;
  const { body, emit } = bodyWriter();
  emit(op.loop); // panels
  for (let l = 0; l < MR; l++) {
    // lane = p·MR + l; ptr_l = base + laneOffsets[lane < valid ? lane : valid - 1]
    const lane = [op.localGet(p), op.i32Const(MR), op.i32Mul, op.i32Const(l), op.i32Add];
    emit(op.localGet(base), op.localGet(laneOffsets), ...lane, op.localGet(valid), op.i32Const(1), op.i32Sub, ...lane, op.localGet(valid), op.i32LtU, op.select);
    emit(op.i32Const(4), op.i32Mul, op.i32Add, op.i32Load(0), op.i32Add, op.localSet(ptr(l)));
  }
  emit(op.localGet(kc), op.localSet(k), op.localGet(kOffsets), op.localSet(kp), op.loop);
  emit(op.localGet(kp), op.i32Load(0), op.localSet(off));
  for (let l = 0; l < MR; l++) emit(op.localGet(dst), op.localGet(ptr(l)), op.localGet(off), op.i32Add, op.f32Load(0), op.f32Store(4 * l));
  emit(op.localGet(kp), op.i32Const(4), op.i32Add, op.localSet(kp));
  emit(op.localGet(dst), op.i32Const(4 * MR), op.i32Add, op.localSet(dst));
  emit(op.localGet(k), op.i32Const(1), op.i32Sub, op.localSet(k), op.localGet(k), op.brIf(0), op.end);
  emit(op.localGet(p), op.i32Const(1), op.i32Add, op.localSet(p), op.localGet(p), op.localGet(panels), op.i32Ne, op.brIf(0), op.end);
  return { name: 'packGather', params: 7, locals: [I32, I32, I32, I32, ...Array<ValType>(MR).fill(I32)], body };
}

/**
 * tiles(ap, bp, kc, rowPanels, colPanels, c, ldc, acc): runs the micro-kernel (function `kernel`) on every
 * tile of a packed row block (rowPanels A micro-panels at ap) against a packed k block of B
 * (colPanels micro-panels at bp), column panel by column panel, so a B micro-panel stays in L1 while
 * the A block (L2) streams past it. C tiles start at c, rows ldc bytes apart.
 */
export function tilesFunction(name = 'tiles', kernel: number = FN.kernel): FunctionDef {
  const [ap, bp, kc, rowPanels, colPanels, c, ldc, acc] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [jp, ip, a, cRow, cCol] = [8, 9, 10, 11, 12];
  const { body, emit } = bodyWriter();
  emit(op.localGet(c), op.localSet(cCol), op.loop); // column panels
  emit(op.i32Const(0), op.localSet(ip), op.localGet(ap), op.localSet(a), op.localGet(cCol), op.localSet(cRow), op.loop); // row panels
  emit(op.localGet(a), op.localGet(bp), op.localGet(kc), op.localGet(cRow), op.localGet(ldc), op.localGet(acc), op.call(kernel));
  emit(op.localGet(a), op.localGet(kc), op.i32Const(MR * 4), op.i32Mul, op.i32Add, op.localSet(a));
  emit(op.localGet(cRow), op.localGet(ldc), op.i32Const(MR), op.i32Mul, op.i32Add, op.localSet(cRow));
  emit(op.localGet(ip), op.i32Const(1), op.i32Add, op.localSet(ip), op.localGet(ip), op.localGet(rowPanels), op.i32Ne, op.brIf(0), op.end);
  emit(op.localGet(bp), op.localGet(kc), op.i32Const(NR * 4), op.i32Mul, op.i32Add, op.localSet(bp));
  emit(op.localGet(cCol), op.i32Const(NR * 4), op.i32Add, op.localSet(cCol));
  emit(op.localGet(jp), op.i32Const(1), op.i32Add, op.localSet(jp), op.localGet(jp), op.localGet(colPanels), op.i32Ne, op.brIf(0), op.end);
  return { name, params: 8, locals: [I32, I32, I32, I32, I32], body };
}

/** Command codes of a work list (gemm_wasm.ts builds them): [code, 8 arguments] per call. */
export const CMD_PACK_A = 1;
export const CMD_PACK_B = 2;
export const CMD_TILES = 3;
export const CMD_PACK_A_GATHER = 4;
/** tiles with the fused kernel (only in a module built with `fma`). */
export const CMD_TILES_FMA = 5;
/** memory.copy(dst, src, bytes) and memory.fill(dst, 0, bytes): native-speed moves on the shared heap, where JS's copyWithin / fill are ~3x slower. */
export const CMD_COPY = 6;
export const CMD_ZERO = 7;
export const CMD_WORDS = 9;


/**
 * run(list, count): runs a work list of `count` commands at byte offset `list` (CMD_WORDS i32 words
 * each: the code, then the arguments of packA / packB / packGather (7), tiles (8), copy (dst, src,
 * bytes) or zero (dst, bytes)). One call per thread and
 * product, so the calling thread and the helper threads (gemm_threads.ts) run the same code.
 */
export function runFunction(fma: boolean): FunctionDef {
  const [list, count] = [0, 1];
  const code = 2;
  const { body, emit } = bodyWriter();
  const args = (n: number): number[][] => Array.from({ length: n }, (_, i) => [...op.localGet(list), ...op.i32Load(4 * (i + 1))]);
  emit(op.loop);
  emit(op.localGet(list), op.i32Load(0), op.localSet(code));
  emit(op.localGet(code), op.i32Const(CMD_TILES), op.i32Eq, op.if, ...args(8), op.call(FN.tiles), op.else);
  if (fma) emit(op.localGet(code), op.i32Const(CMD_TILES_FMA), op.i32Eq, op.if, ...args(8), op.call(FN.tilesFma), op.else);
  emit(op.localGet(code), op.i32Const(CMD_PACK_A), op.i32Eq, op.if, ...args(7), op.call(FN.packA), op.else);
  emit(op.localGet(code), op.i32Const(CMD_PACK_A_GATHER), op.i32Eq, op.if, ...args(7), op.call(FN.packGather), op.else);
  emit(op.localGet(code), op.i32Const(CMD_COPY), op.i32Eq, op.if, ...args(3), op.memoryCopy, op.else);
  emit(op.localGet(code), op.i32Const(CMD_ZERO), op.i32Eq, op.if, ...args(1), op.i32Const(0), ...args(2).slice(1), op.memoryFill, op.else);
  emit(...args(7), op.call(FN.packB), op.end, op.end, op.end, op.end, op.end); // CMD_PACK_B
  if (fma) emit(op.end);
  emit(op.localGet(list), op.i32Const(CMD_WORDS * 4), op.i32Add, op.localSet(list));
  emit(op.localGet(count), op.i32Const(1), op.i32Sub, op.localSet(count), op.localGet(count), op.brIf(0), op.end);
  return { name: 'run', params: 2, locals: [I32], body };
}

/**
 * The module's functions in FN's index order (`tiles` calls the kernel, `run` the others by index);
 * with `fma` also the fused kernel and its tiles (the module then needs relaxed SIMD to compile).
 */
export function gemmFunctions(fma = false): FunctionDef[] {
  const fns = [microKernelFunction(), packFunction('packA', MR), packFunction('packB', NR), tilesFunction(), packGatherFunction(), runFunction(fma)];
  return fma ? [...fns, microKernelFunction(true), tilesFunction('tilesFma', FN.kernelFma)] : fns;
}
