/**
 * Backend choice (backend/select_backend.ts): forced cpu, automatic choice with reasons for the skipped
 * better backends, forced backends that cannot load, bad names; and wasm with 2 threads in a child
 * process that must report 2 XNNPACK threads, compute correctly and exit by itself.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@detr/core/testing';
import { fastKernelsInstalled, gemmUsesFma, overrideActive, relaxedMaddFuses, selectBackend } from '../src/backend/index';

const require = createRequire(import.meta.url);
const installed = (pkg: string): boolean => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

describe('selectBackend', () => {
  it('forced cpu: chosen, logged, fast kernels installed, no memory check', async () => {
    const lines: string[] = [];
    const info = await selectBackend({ backend: 'cpu', log: (l) => lines.push(l) });
    expect(info).toMatchObject({ name: 'cpu', kind: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(lines[0]).toMatch(/using cpu .*requested 'cpu'/);
    expect(fastKernelsInstalled()).toBe(true);
    expect(overrideActive('Conv2D')).toBe(true);
    expect(() => info.memoryCheck('step 1')).not.toThrow();
  });

  it('rejects unknown names and bad thread counts, naming the valid values', async () => {
    await expect(selectBackend({ backend: 'gpu', log: () => {} })).rejects.toThrow(/unknown backend 'gpu'.*node-gpu, node, tensorflow, wasm, cpu/);
    await expect(selectBackend({ backend: 'cpu', threads: 0, log: () => {} })).rejects.toThrow(/threads must be a positive integer, got 0/);
  });

  it.skipIf(installed('@tensorflow/tfjs-node'))('forced node without tfjs-node installed fails with the reason', async () => {
    await expect(selectBackend({ backend: 'node', log: () => {} })).rejects.toThrow(/backend 'node' was requested but cannot be used \(node: not installed/);
    await expect(selectBackend({ backend: 'tensorflow', log: () => {} })).rejects.toThrow(/node-gpu: .*; node: not installed/);
  });

  it('automatic: the first usable of node-gpu, node, wasm, cpu, with a reason per skipped one', async () => {
    const lines: string[] = [];
    const info = await selectBackend({ threads: 2, log: (l) => lines.push(l) });
    const order = ['node-gpu', 'node', 'wasm', 'cpu'];
    const names = info.skipped.map((s) => s.name);
    expect(names).toEqual(order.slice(0, names.length));
    expect(info.kind).toBe(order[names.length]);
    for (const s of info.skipped) expect(s.reason.length).toBeGreaterThan(5);
    expect(lines).toHaveLength(1 + info.skipped.length);
    for (const s of info.skipped) expect(lines.some((l) => l.includes(`skipped ${s.name}: ${s.reason}`))).toBe(true);
    if (!installed('@tensorflow/tfjs-node') && !installed('@tensorflow/tfjs-node-gpu')) {
      expect(info).toMatchObject({ name: 'wasm', kind: 'wasm', simd: true, threads: 2 });
      expect(info.skipped.find((s) => s.name === 'node')?.reason).toMatch(/not installed \(optional dependency @tensorflow\/tfjs-node\)/);
      // the GEMM's fused multiply-add is on by default where relaxed SIMD compiles and fuses (x86 with FMA3)
      const fma = gemmUsesFma() && relaxedMaddFuses() ? ', fused multiply-add' : '';
      expect(lines[0]).toContain(`using wasm (SIMD, 2 threads${fma})`);
      // The wasm backend cannot be re-initialised with another thread count in the same process.
      await expect(selectBackend({ backend: 'wasm', threads: 1, log: () => {} })).rejects.toThrow(/already initialised with 2 thread/);
      // Also in automatic mode: a conflict is an error, not a silent fall-back to cpu.
      await expect(selectBackend({ threads: 3, log: () => {} })).rejects.toThrow(/cannot be re-initialised with 3/);
      expect((await selectBackend({ threads: 2, log: () => {} })).kind).toBe('wasm');
    }
  });

  it('wasm with 2 threads in a fresh process: 2 XNNPACK threads, correct numbers, the process exits by itself', () => {
    const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'backend-threads-child.ts');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, '2'], { cwd: repoRoot(), encoding: 'utf8', timeout: 90_000 });
    expect(r.error, `child did not finish within 90 s (${Date.now() - t0} ms): ${r.error?.message}`).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    expect(out).toMatchObject({ backend: 'wasm', threads: 2, simd: true });
    expect(out.runningWorkers).toBeGreaterThanOrEqual(1); // pthreadpool: the main thread + 1 worker
    // sum(ones(256,256)^2) = 256^3 (exact in float32); d/dW of sum(conv(ones, W)) = number of output positions (6*6).
    expect(out.value).toEqual([256 ** 3, 36]);
  });
});
