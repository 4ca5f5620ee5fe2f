/**
 * The thread-pool spin patch of the threaded wasm binary (backend/wasm_pool_spin.ts): the 3-byte
 * LEB128 encoder against an independent decoder, the patch of the real tfjs-backend-wasm 4.22.0 binary
 * (valid wasm, only the three pthreadpool constants changed), refusal of other binaries and bad counts,
 * and the setting from option / env.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_POOL_SPIN_ITERATIONS,
  MAX_POOL_SPIN_ITERATIONS,
  POOL_SPIN_SITE_COUNT,
  UPSTREAM_POOL_SPIN_ITERATIONS,
  encodeSpinConst,
  findSpinSites,
  patchPoolSpinIterations,
  resolvePoolSpin,
} from '../src/backend/index';

const require = createRequire(import.meta.url);
// Node's global WebAssembly (the project's TypeScript lib has no DOM/WebAssembly declarations).
const wasmApi = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
const threadedBinaryFile = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), 'tfjs-backend-wasm-threaded-simd.wasm');

/** Decodes `i32.const <signed LEB128>` at `at`: [value, bytes used after the opcode]. */
function decodeI32Const(bytes: Uint8Array, at: number): [number, number] {
  expect(bytes[at]).toBe(0x41);
  let result = 0;
  let shift = 0;
  let i = at + 1;
  let byte: number;
  do {
    byte = bytes[i++];
    result |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  if (shift < 32 && byte & 0x40) result |= -1 << shift;
  return [result, i - at - 1];
}

describe('encodeSpinConst', () => {
  it('writes i32.const n as a 3-byte signed LEB128 that decodes back to n', () => {
    for (const n of [1, 63, 64, 127, 128, 1000, 10_000, 16_383, 16_384, UPSTREAM_POOL_SPIN_ITERATIONS, MAX_POOL_SPIN_ITERATIONS]) {
      const bytes = encodeSpinConst(n);
      expect(bytes.length).toBe(4);
      expect(decodeI32Const(bytes, 0)).toEqual([n, 3]);
    }
    // The upstream constant's own (minimal) encoding is 3 bytes long too: the patch moves no offset.
    expect([...encodeSpinConst(UPSTREAM_POOL_SPIN_ITERATIONS)]).toEqual([0x41, 0xc0, 0x84, 0x3d]);
  });

  it('refuses counts a 3-byte encoding cannot hold, and 0 (the countdown loops would wrap to 2^32)', () => {
    for (const bad of [0, -1, 1.5, MAX_POOL_SPIN_ITERATIONS + 1, Number.NaN]) {
      expect(() => encodeSpinConst(bad)).toThrow(/pool spin iterations must be an integer in 1\.\.1048575/);
    }
  });
});

describe('patchPoolSpinIterations on the tfjs-backend-wasm 4.22.0 threaded SIMD binary', () => {
  const original = new Uint8Array(fs.readFileSync(threadedBinaryFile));

  it('changes exactly the three pthreadpool spin constants and stays valid wasm', () => {
    const sites = findSpinSites(original);
    expect(sites).toHaveLength(POOL_SPIN_SITE_COUNT);
    const patched = patchPoolSpinIterations(original, DEFAULT_POOL_SPIN_ITERATIONS);
    expect(patched.length).toBe(original.length);
    const changed: number[] = [];
    for (let i = 0; i < original.length; i++) if (patched[i] !== original[i]) changed.push(i);
    expect(changed.length).toBeGreaterThan(0);
    for (const i of changed) expect(sites.some((s) => i > s && i <= s + 3), `byte ${i} changed outside a spin constant`).toBe(true);
    for (const s of sites) {
      expect(decodeI32Const(original, s)).toEqual([UPSTREAM_POOL_SPIN_ITERATIONS, 3]);
      expect(decodeI32Const(patched, s)).toEqual([DEFAULT_POOL_SPIN_ITERATIONS, 3]);
    }
    expect(wasmApi.validate(patched)).toBe(true);
    expect(findSpinSites(patched)).toEqual([]);
  });

  it('refuses a binary that is not the pinned one, naming it', () => {
    const other = Uint8Array.from(original);
    other[100] ^= 1;
    expect(() => patchPoolSpinIterations(other, 1000, 'other.wasm')).toThrow(/other\.wasm has sha256 [0-9a-f]{64}, not tfjs-backend-wasm 4\.22\.0's .*poolSpinIterations: 'upstream'/);
  });
});

describe('resolvePoolSpin', () => {
  const saved = process.env.DETR_WASM_POOL_SPIN;
  afterEach(() => {
    if (saved === undefined) delete process.env.DETR_WASM_POOL_SPIN;
    else process.env.DETR_WASM_POOL_SPIN = saved;
  });

  it('option, then env DETR_WASM_POOL_SPIN, then the default; bad values name their source', () => {
    delete process.env.DETR_WASM_POOL_SPIN;
    expect(resolvePoolSpin()).toBe(DEFAULT_POOL_SPIN_ITERATIONS);
    expect(resolvePoolSpin(500)).toBe(500);
    expect(resolvePoolSpin('upstream')).toBe('upstream');
    process.env.DETR_WASM_POOL_SPIN = '2000';
    expect(resolvePoolSpin()).toBe(2000);
    expect(resolvePoolSpin(7)).toBe(7);
    process.env.DETR_WASM_POOL_SPIN = 'upstream';
    expect(resolvePoolSpin()).toBe('upstream');
    process.env.DETR_WASM_POOL_SPIN = 'fast';
    expect(() => resolvePoolSpin()).toThrow(/DETR_WASM_POOL_SPIN: pool spin iterations must be an integer in 1\.\.1048575 or 'upstream', got 'fast'/);
    expect(() => resolvePoolSpin(0)).toThrow(/poolSpinIterations: .* or 'upstream', got '0'/);
  });
});
