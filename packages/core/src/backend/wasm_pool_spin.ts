/**
 * Shortens the spin-wait of XNNPACK's thread pool inside tfjs-backend-wasm's threaded SIMD binary.
 *
 * pthreadpool spins PTHREADPOOL_SPIN_WAIT_ITERATIONS = 1,000,000 times (pthreadpool
 * src/threadpool-common.h) before it sleeps on a futex (src/pthreads.c): the calling thread in
 * `wait_worker_threads` while the workers finish their ranges (two inlined copies in this binary), and
 * each worker in `wait_for_new_command` after its part (the loops are `for (i = N; i != 0; i--)`). One
 * iteration is an atomic load, so a wait spins ~1-3 ms before sleeping. Where the process cannot have a
 * second core to itself — on a shared 2-core machine, Linux's autogroup scheduler gives another
 * session's single busy process a whole core, leaving this process one core for all its threads — the
 * spinning thread holds the only core the thread it waits for needs: measured here (2 threads, one core
 * free for this process) a 64x64 matmul took 0.55 ms instead of 0.026 ms, and a training step of the
 * small Align-DETR config 1.27x the 1-thread time. With a short spin the waiting thread sleeps in
 * `Atomics.wait` (a real futex in Node), which hands the core over at once.
 *
 * The binary is patched in memory and written, content-addressed, to os.tmpdir() (the wasm loader of
 * tfjs is given its path through `setWasmPaths`). Each site is `i32.const 1000000` (opcode 0x41, signed
 * LEB128 c0 84 3d); the new count is written as a 3-byte LEB128 (padded encodings are valid wasm), so no
 * offset in the module moves. The file's sha256 is checked first: any other binary is refused.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** pthreadpool's PTHREADPOOL_SPIN_WAIT_ITERATIONS, compiled into the binary. */
export const UPSTREAM_POOL_SPIN_ITERATIONS = 1_000_000;
/**
 * The spin count used by default: long enough for a worker that already runs on its own core to pick
 * up the next command (kernels follow each other within microseconds), short enough (~10-30 µs) that a
 * waiting thread yields its core quickly (bench numbers in the report of issue 6 item 1).
 */
export const DEFAULT_POOL_SPIN_ITERATIONS = 10_000;
/** The largest count a 3-byte signed LEB128 holds (2^20 - 1). */
export const MAX_POOL_SPIN_ITERATIONS = (1 << 20) - 1;
/** sha256 of tfjs-backend-wasm 4.22.0's `tfjs-backend-wasm-threaded-simd.wasm`. */
export const PINNED_THREADED_SIMD_WASM_SHA256 = 'c052228d4bef185c27bbe59a9e029570c78bbb9f08b3cb46b597851650373de2';
/** Spin loops of pthreadpool in that binary (wait_worker_threads x2, wait_for_new_command). */
export const POOL_SPIN_SITE_COUNT = 3;

const I32_CONST = 0x41;

/** `i32.const n` with n as a 3-byte signed LEB128 (1 <= n <= MAX_POOL_SPIN_ITERATIONS). */
export function encodeSpinConst(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 1 || n > MAX_POOL_SPIN_ITERATIONS) {
    // 0 would not mean "no spin": the loops count down with `i != 0`, so 0 wraps to 2^32 iterations.
    throw new Error(`pool spin iterations must be an integer in 1..${MAX_POOL_SPIN_ITERATIONS}, got ${n}`);
  }
  return Uint8Array.of(I32_CONST, 0x80 | (n & 0x7f), 0x80 | ((n >> 7) & 0x7f), (n >> 14) & 0x3f);
}

/** Offsets of every `i32.const <UPSTREAM_POOL_SPIN_ITERATIONS>` encoding (minimal LEB128) in `binary`. */
export function findSpinSites(binary: Uint8Array): number[] {
  const pattern = Uint8Array.of(I32_CONST, 0xc0, 0x84, 0x3d);
  const sites: number[] = [];
  const buf = Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength);
  for (let i = buf.indexOf(pattern); i >= 0; i = buf.indexOf(pattern, i + 1)) sites.push(i);
  return sites;
}

/**
 * A copy of `binary` with pthreadpool's spin count set to `iterations`. Throws, naming `source`, when the
 * binary is not the pinned one or does not hold exactly POOL_SPIN_SITE_COUNT spin constants.
 */
export function patchPoolSpinIterations(binary: Uint8Array, iterations: number, source = 'the threaded SIMD binary'): Uint8Array {
  const replacement = encodeSpinConst(iterations);
  const hash = createHash('sha256').update(binary).digest('hex');
  if (hash !== PINNED_THREADED_SIMD_WASM_SHA256) {
    throw new Error(
      `wasm threads: ${source} has sha256 ${hash}, not tfjs-backend-wasm 4.22.0's ${PINNED_THREADED_SIMD_WASM_SHA256}; ` +
        "its thread-pool spin cannot be patched safely (pass poolSpinIterations: 'upstream' to run it unpatched)",
    );
  }
  const sites = findSpinSites(binary);
  if (sites.length !== POOL_SPIN_SITE_COUNT) {
    throw new Error(`wasm threads: ${source} holds ${sites.length} pthreadpool spin constants, expected ${POOL_SPIN_SITE_COUNT}`);
  }
  const out = Uint8Array.from(binary);
  for (const at of sites) out.set(replacement, at);
  return out;
}

/**
 * Writes `contents` to `<os.tmpdir()>/<dirName>/<prefix>.<hash of contents><ext>` once and returns the
 * path: content-addressed, written atomically (temp file + rename), shared by all processes and never
 * deleted (a running process may still read it).
 */
export function writeContentAddressedTempFile(dirName: string, prefix: string, ext: string, contents: string | Uint8Array): string {
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), dirName);
  const file = path.join(dir, `${prefix}.${hash}${ext}`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, contents);
    fs.renameSync(tmp, file);
  }
  return file;
}

/** Writes the patched copy of `sourceFile` to os.tmpdir() once (writeContentAddressedTempFile) and returns its path. */
export function writePatchedThreadedBinary(sourceFile: string, iterations: number): string {
  const patched = patchPoolSpinIterations(fs.readFileSync(sourceFile), iterations, sourceFile);
  return writeContentAddressedTempFile('detr-tfjs-wasm-4.22.0', `threaded-simd.spin${iterations}`, '.wasm', patched);
}
