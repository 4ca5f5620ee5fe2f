/**
 * A minimal WebAssembly binary writer: just what gemm_microkernel.ts needs (one imported memory,
 * functions of i32 parameters with i32 / v128 locals, loops, and the SIMD loads, stores and float
 * arithmetic of a GEMM micro-kernel). Encodings from the WebAssembly core spec 2.0, section 5
 * ("Binary Format") and its SIMD opcode table; no toolchain is needed at build or run time.
 */

export const I32 = 0x7f;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit values). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const utf8 = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s, 'utf8')];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Instruction encoders (each returns its bytes). `align` is log2 of the byte alignment. */
export const op = {
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Ne: [0x47],
  i32LtU: [0x49],
  i32Eq: [0x46],
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  else: [0x05],
  select: [0x1b],
  call: (f: number) => [0x10, ...uleb(f)],
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  loop: [0x03, 0x40], // empty block type
  if: [0x04, 0x40],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  v128Load: (offset: number) => [0xfd, ...uleb(0x00), 4, ...uleb(offset)],
  v128Load32Splat: (offset: number) => [0xfd, ...uleb(0x09), 2, ...uleb(offset)],
  v128Store: (offset: number) => [0xfd, ...uleb(0x0b), 4, ...uleb(offset)],
  f32x4Add: [0xfd, ...uleb(0xe4)],
  f32x4Mul: [0xfd, ...uleb(0xe6)],
  /** Bulk memory (spec 2.0): memory.copy(dst, src, n) and memory.fill(dst, value, n) on memory 0. */
  memoryCopy: [0xfc, ...uleb(10), 0x00, 0x00],
  memoryFill: [0xfc, ...uleb(11), 0x00],
  /**
   * Relaxed SIMD (WebAssembly 3.0) f32x4.relaxed_madd(a, b, c) = a·b + c, fused or not as the engine
   * chooses: V8 emits one FMA on x86 with FMA3 (one rounding). Validates only where relaxed SIMD is
   * enabled (relaxed_simd.ts).
   */
  f32x4RelaxedMadd: [0xfd, ...uleb(0x105)],
};

export interface FunctionDef {
  name: string;
  /** Number of i32 parameters. */
  params: number;
  /** Local declarations after the parameters, in index order. */
  locals: ValType[];
  body: number[];
}

/**
 * A module that imports its memory as env.memory (shared memories need a maximum: `maxPages`) and
 * exports the given functions (i32 parameters, no results).
 */
export function encodeModule(memory: { shared: boolean; maxPages?: number }, functions: FunctionDef[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [I32])), ...vec([])]);
  const limits = memory.shared ? [0x03, ...uleb(1), ...uleb(memory.maxPages ?? 65536)] : [0x00, ...uleb(1)];
  const imports = vec([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]]);
  const funcIndex = vec(functions.map((_, i) => uleb(i)));
  const exports = vec(functions.map((f, i) => [...utf8(f.name), 0x00, ...uleb(i)]));
  const bodies = functions.map((f) => {
    const runs: number[][] = []; // consecutive locals of one type are declared together
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      runs.push([...uleb(j - i), f.locals[i]]);
      i = j;
    }
    const code = [...vec(runs), ...f.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, funcIndex),
    ...section(7, exports),
    ...section(10, vec(bodies)),
  ]);
}
