Error.stackTraceLimit = 80;
import * as tf from '@tensorflow/tfjs';
import { Rng, seedEverything, selectBackend, wasmHeapBytes } from '@detr/core';
import { instantiate } from '@detr/registry';
import { findConfigFile, loadAndResolve } from '../tools/cli_common';
import { syntheticBatch } from './common';
await selectBackend({ backend: 'wasm', threads: 2, log: () => {}, memoryLimitBytes: 3.9 * 2 ** 30 });
const [project, cfg, size, ...overrides] = process.argv.slice(2);
const { resolved } = await loadAndResolve(findConfigFile(cfg, project), overrides);
const r = resolved as any;
seedEverything(42);
const model = instantiate<any>(r.model);
model.train?.();
const batch = syntheticBatch(2, Number(size), Number(r.model.num_classes), new Rng(7), 1);
tf.variableGrads(() => {
  const losses = model.forwardTrain(batch) as Record<string, tf.Scalar>;
  const tape = (tf.engine() as any).state.activeTape as any[];
  const by = new Map<string, { n: number; bytes: number }>();
  const byKernel = new Map<string, number>();
  const seen = new Set<any>();
  let total = 0;
  for (const node of tape) for (const t of node.saved ?? []) {
    if (seen.has(t.dataId)) continue; seen.add(t.dataId);
    const bytes = t.size * 4; total += bytes;
    const key = `${node.kernelName} [${t.shape}]`;
    const e = by.get(key) ?? { n: 0, bytes: 0 }; e.n++; e.bytes += bytes; by.set(key, e);
    byKernel.set(node.kernelName, (byKernel.get(node.kernelName) ?? 0) + bytes);
  }
  console.log('tape nodes', tape.length, 'saved MiB', (total / 2 ** 20).toFixed(0), 'heap MiB', (wasmHeapBytes() / 2 ** 20).toFixed(0));
  console.log([...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)}`).join(', '));
  for (const [k, v] of [...by].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 30)) console.log((v.bytes / 2 ** 20).toFixed(1).padStart(8), v.n, k);
  return tf.addN(Object.values(losses)) as tf.Scalar;
});
