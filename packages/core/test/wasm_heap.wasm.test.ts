/**
 * The wasm heap's integrity: the shared-buffer Identity (identity_wasm.ts) and the emmalloc region walk
 * of the heap check (wasm_heap_check.ts), on the real wasm module.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initialisedBackend, walkEmmallocRegions, wasmHeapBuffer, withBackend, type WasmModuleMemory } from '../src/backend/index';

interface WasmBackendInternals {
  wasm: WasmModuleMemory;
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number; refCount: number } | undefined; has(id: tf.DataId): boolean };
}

const internals = () => initialisedBackend('wasm') as unknown as WasmBackendInternals;

describe('wasm Identity', () => {
  it('a clone shares its buffer (no copy) and outlives the original', async () => {
    await withBackend('wasm', () => {
      const x = tf.tensor1d([1, 2, 3, 4]);
      const y = x.clone();
      expect(y.dataId).toBe(x.dataId);
      expect(internals().dataIdMap.get(x.dataId)?.refCount).toBe(2);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
      y.dispose();
      expect(internals().dataIdMap.has(y.dataId)).toBe(false); // freed with the last reference
    }, { threads: 1 });
  });

  it('saved activations survive the backward pass (values equal to the cpu backend)', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d([[0.5, -1, 2], [1.5, 0.25, -0.75]]);
        const w = tf.variable(tf.tensor2d([[1, -2], [0.5, 1], [-1, 0.25]]));
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.softmax(tf.relu(a.matMul(b)).mul(3)).square().sum())([x, w.clone()]);
        const out = g.map((t) => Array.from(t.dataSync()));
        w.dispose();
        return out;
      });
    const cpu = await withBackend('cpu', run);
    const wasm = await withBackend('wasm', run, { threads: 1 });
    for (let i = 0; i < cpu.length; i++) for (let j = 0; j < cpu[i].length; j++) expect(wasm[i][j]).toBeCloseTo(cpu[i][j], 5);
  });
});

describe('heap region walk (DETR_WASM_HEAP_CHECK)', () => {
  it('finds the live heap consistent, and a write one word past a tensor', async () => {
    await withBackend('wasm', () => {
      const a = tf.ones([1000]);
      const b = tf.ones([1000]);
      const be = internals();
      const heap = () => new Uint8Array(wasmHeapBuffer(be.wasm) as ArrayBufferLike);
      const starts = [a, b].map((t) => (be.dataIdMap.get(t.dataId)?.memoryOffset as number) - 4);
      expect(walkEmmallocRegions(heap(), starts)).toBeNull();
      // The word after a's 4,000 payload bytes is its region's ceiling size (emmalloc: size at both ends).
      const u32 = new Uint32Array(wasmHeapBuffer(be.wasm) as ArrayBufferLike);
      const ceiling = (starts[0] + 4 + 4000) >>> 2;
      const saved = u32[ceiling];
      u32[ceiling] = 0x3f800000; // what writing 1.0f one element past the end would do
      try {
        expect(walkEmmallocRegions(heap(), starts)).toMatchObject({ region: starts[0], what: expect.stringMatching(/floor size .* != ceiling size/) });
      } finally {
        u32[ceiling] = saved;
      }
      expect(walkEmmallocRegions(heap(), starts)).toBeNull();
      a.dispose();
      b.dispose();
    }, { threads: 1 });
  });
});
