// testing_backends.ts: useTestBackend sets wasm up through selectBackend (1 thread by default, the fast
// kernels installed), HeadroomLog records expectClose's worst ratio and still fails, reportHeadroom
// appends JSON lines. (auditBackendStep is exercised by tools/test/wasm_kernels_guard.test.ts.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { wasmInitResult } from '../src/backend/index';
import { HeadroomLog, reportHeadroom, testWasmThreads, useTestBackend } from '../src/testing';

describe('useTestBackend', () => {
  it('activates wasm through initWasmBackend (threads from testWasmThreads, UnsortedSegmentSum registered), then cpu', async () => {
    expect(await useTestBackend('wasm')).toBe('wasm');
    expect(wasmInitResult()?.requestedThreads).toBe(testWasmThreads());
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeTruthy(); // a fast kernel selectBackend installs
    expect(await useTestBackend('cpu')).toBe('cpu');
    expect(await useTestBackend('wasm')).toBe('wasm'); // back again: initialised once per process
    await expect(useTestBackend('webgl' as never)).rejects.toThrow(/unknown backend 'webgl'/);
  });

  it('testWasmThreads reads DETR_TEST_WASM_THREADS and rejects bad values', () => {
    const prev = process.env.DETR_TEST_WASM_THREADS;
    try {
      delete process.env.DETR_TEST_WASM_THREADS;
      expect(testWasmThreads()).toBe(1);
      process.env.DETR_TEST_WASM_THREADS = '3';
      expect(testWasmThreads()).toBe(3);
      process.env.DETR_TEST_WASM_THREADS = '0';
      expect(() => testWasmThreads()).toThrow(/positive integer, got '0'/);
    } finally {
      if (prev === undefined) delete process.env.DETR_TEST_WASM_THREADS;
      else process.env.DETR_TEST_WASM_THREADS = prev;
    }
  });
});

describe('HeadroomLog and reportHeadroom', () => {
  it('records |a - r| / (rtol|r| + rtol max|r|) per comparison, keeps the worst, and fails like expectClose', () => {
    const log = new HeadroomLog('demo', 'wasm');
    // r = [1, 2]: allowed = 1e-3 * |r| + 1e-3 * 2 -> [3e-3, 4e-3]; errors 1.5e-3 and 1e-3 -> 0.5 and 0.25.
    expect(log.close([1.0015, 2.001], [1, 2], 1e-3, 'a')).toBeCloseTo(0.5, 6);
    expect(log.close([3], [3], 1e-3, 'b')).toBe(0);
    expect(log.worst()).toMatchObject({ label: 'a', fixture: 'demo', backend: 'wasm' });
    expect(log.worst()!.ratio).toBeCloseTo(0.5, 6);
    expect(() => log.close([1.004], [1], 1e-3, 'c')).toThrow(/c \(wasm\): 1 of 1 elements outside/);
    expect(log.entries.map((e) => e.label)).toEqual(['a', 'b']);
    expect(log.summary()).toMatch(/^headroom wasm demo: worst error\/tolerance 5\.00e-1 \(a, rtol 0\.001\) over 2 comparisons$/);
  });

  it('appends one JSON line per comparison to the file DETR_PARITY_HEADROOM names', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'headroom-')), 'h.jsonl');
    const prev = process.env.DETR_PARITY_HEADROOM;
    try {
      process.env.DETR_PARITY_HEADROOM = file;
      const log = new HeadroomLog('demo', 'cpu');
      log.close([2], [2], 1e-5, 'x');
      log.close([1.00001], [1], 1e-5, 'y');
      reportHeadroom(log);
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.fixture, l.backend, l.label])).toEqual([['demo', 'cpu', 'x'], ['demo', 'cpu', 'y']]);
      expect(lines[1].ratio).toBeCloseTo(0.5, 3);
    } finally {
      if (prev === undefined) delete process.env.DETR_PARITY_HEADROOM;
      else process.env.DETR_PARITY_HEADROOM = prev;
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
