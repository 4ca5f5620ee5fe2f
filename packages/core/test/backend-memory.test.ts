/**
 * wasm memory guard (backend/memory_guard.ts), tested against a LOWERED budget: live tensors are
 * allocated step by step until the guard stops the "run" with a clear message at the first step past
 * the budget; the `_malloc` null check (on a fake module: exhausting the real 4 GiB heap is not a
 * test); no checks off wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { WasmMemoryError, WasmMemoryGuard, checkWasmMemory, initialisedBackend, wasmHeapBytes, withBackend, wrapMallocWithCheck } from '../src/backend/index';

const MiB = 1024 ** 2;

afterEach(() => {
  delete process.env.DETR_WASM_MEMORY_LIMIT_MB;
});

describe('WasmMemoryGuard', () => {
  it('stops a run whose memory grows past a lowered budget, at the first step over it, with the memory, the limit and what to reduce', async () => {
    await withBackend('wasm', () => {
      const limit = Math.max(wasmHeapBytes(), tf.memory().numBytes) + 40 * MiB;
      const guard = new WasmMemoryGuard({ limitBytes: limit });
      const held: tf.Tensor[] = [];
      let error: Error | null = null;
      try {
        for (let step = 1; step <= 30 && !error; step++) {
          held.push(tf.zeros([2 * 1024 * 1024])); // 8 MiB more live memory per "step"
          try {
            const s = guard.check(`after training iteration ${step}`);
            // Every step the guard let pass was within the budget.
            expect(s.heapBytes).toBeLessThanOrEqual(limit);
            expect(s.liveTensorBytes).toBeLessThanOrEqual(limit);
          } catch (e) {
            error = e as Error;
          }
        }
        expect(error).toBeInstanceOf(WasmMemoryError);
        const steps = held.length;
        // Some steps fit (40 MiB of headroom, plus free heap space), and it stopped at the first one over.
        expect(steps).toBeGreaterThanOrEqual(5);
        expect(wasmHeapBytes()).toBeGreaterThan(limit);
        const msg = (error as Error).message;
        expect(msg).toContain(`(after training iteration ${steps})`);
        expect(msg).toMatch(/the wasm heap has grown to \d+(\.\d+)? MiB/);
        expect(msg).toMatch(/\d+ live tensors of \d+(\.\d+)? MiB, shared buffers counted per tensor/);
        expect(msg).toContain(`limit of ${(limit / MiB).toFixed(1)} MiB`);
        expect(msg).toMatch(/smaller input size/);
        expect(msg).toMatch(/gradient accumulation \(train\.grad_accum_steps\)/);
      } finally {
        tf.dispose(held);
      }
      // The heap never shrinks: the same budget keeps failing; a budget above the heap passes.
      expect(() => guard.check('after dispose')).toThrow(WasmMemoryError);
      expect(() => checkWasmMemory('larger budget', { limitBytes: wasmHeapBytes() + MiB })).not.toThrow();
    }, { threads: 2 });
  });

  it('takes its default limit from DETR_WASM_MEMORY_LIMIT_MB and rejects nonsense limits', () => {
    process.env.DETR_WASM_MEMORY_LIMIT_MB = '512';
    expect(new WasmMemoryGuard().limitBytes).toBe(512 * MiB);
    process.env.DETR_WASM_MEMORY_LIMIT_MB = 'lots';
    expect(() => new WasmMemoryGuard()).toThrow(/DETR_WASM_MEMORY_LIMIT_MB must be a positive number of MiB, got 'lots'/);
    expect(() => new WasmMemoryGuard({ limitBytes: 5 * 1024 ** 3 })).toThrow(/above the wasm heap cap of 4 GiB/);
  });

  it('only reports off wasm', async () => {
    await withBackend('cpu', () => {
      const t = tf.zeros([1024 * 1024]);
      expect(checkWasmMemory('cpu step', { limitBytes: 1024 }).backend).toBe('cpu');
      t.dispose();
    });
  });
});

describe('_malloc check', () => {
  it('a failed allocation throws instead of handing out address 0', () => {
    const fake = { _malloc: (n: number) => (n > 1000 ? 0 : 64) };
    wrapMallocWithCheck(fake);
    wrapMallocWithCheck(fake); // idempotent
    expect(fake._malloc(100)).toBe(64);
    expect(fake._malloc(0)).toBe(64);
    expect(() => fake._malloc(4096)).toThrow(WasmMemoryError);
    expect(() => fake._malloc(4096)).toThrow(/wasm heap exhausted: allocating .* failed .*Reduce the memory a step needs/);
  });

  it('stops an allocation that grows the heap past the budget, mid-step', () => {
    let heap = 100 * MiB;
    const memory = { get buffer() { return { byteLength: heap } as ArrayBufferLike; } };
    const fake = { _malloc: (n: number) => ((heap += n), 64), wasmMemory: memory };
    wrapMallocWithCheck(fake, { limitBytes: 200 * MiB });
    expect(fake._malloc(50 * MiB)).toBe(64);
    expect(() => fake._malloc(60 * MiB)).toThrow(/wasm memory budget exceeded: allocating 60.0 MiB grew the wasm heap to 210.0 MiB, above the limit of 200.0 MiB/);
  });

  it('wraps the raw export: emscripten\'s self-replacing `_malloc` stub cannot drop the check', () => {
    const raw = (n: number) => (n > 1000 ? 0 : 64);
    // emscripten 3.1's lazy export: the first call replaces Module._malloc with the raw export.
    const fake: { _malloc: (n: number) => number; asm: { malloc: (n: number) => number } } = {
      asm: { malloc: raw },
      _malloc: (n: number) => (fake._malloc = fake.asm.malloc)(n),
    };
    wrapMallocWithCheck(fake);
    expect(fake._malloc(100)).toBe(64);
    expect(() => fake._malloc(4096)).toThrow(WasmMemoryError); // still checked after the first call
  });

  it('stays installed on the real wasm module after allocations: an impossible request throws WasmMemoryError', async () => {
    await withBackend('wasm', () => {
      const m = (initialisedBackend('wasm') as unknown as { wasm: { _malloc: (n: number) => number } }).wasm;
      tf.tidy(() => tf.add(tf.ones([1000]), tf.ones([1000])).dataSync());
      // Above emmalloc's MAX_ALLOC_SIZE: returns 0 at once, without growing the heap.
      expect(() => m._malloc(0xfffffff0)).toThrow(/wasm heap exhausted/);
    }, { threads: 2 });
  });

  it('is installed on the wasm backend by withBackend/selectBackend, and allocations still work', async () => {
    await withBackend('wasm', () => {
      const m = (initialisedBackend('wasm') as unknown as { wasm: { _malloc: (n: number) => number } }).wasm;
      const before = m._malloc;
      wrapMallocWithCheck(m);
      expect(m._malloc).toBe(before); // already wrapped: nothing changes
      expect(Array.from(tf.tidy(() => tf.add(tf.ones([3]), 1).dataSync()))).toEqual([2, 2, 2]);
    }, { threads: 2 });
  });
});
