/**
 * Child process of backend-threads.test.ts: selects wasm with the thread count given as argv[2] (and
 * DETR_WASM_POOL_SPIN from the environment), then times 1024³ matmuls in rounds, each between two
 * readings of the parallel capacity the scheduler grants this process (two spinning JS threads), and
 * prints one JSON line: the init result and per round capacity before/after, CPU/wall, ms per matmul and
 * the CPU ms of the main thread and of the busiest other threads (the pool's worker first). Stops after `wantCalm` rounds with both capacities >= argv[3] or
 * after argv[4] rounds. Ends by itself.
 */
import * as tf from '@tensorflow/tfjs';
import { ParallelCapacityProbe, sampleParallelism, selectBackend, wasmInitResult } from '../src/backend/index';

const threads = Number(process.argv[2] ?? '2');
const calmCapacity = Number(process.argv[3] ?? '1.6');
const maxRounds = Number(process.argv[4] ?? '5');
const wantCalm = 2;
const WINDOW_MS = 600;
const PROBE_MS = 200;

await selectBackend({ backend: 'wasm', threads, log: () => {} });
const probe = new ParallelCapacityProbe(2);
await probe.measure(20); // starts the probe's threads
const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
const matmul = (): void => {
  const c = tf.matMul(a, b);
  c.dataSync();
  c.dispose();
};
matmul(); // warm-up: XNNPACK packs the weights on first use

const rounds = [];
let calm = 0;
for (let r = 0; r < maxRounds && calm < wantCalm; r++) {
  const capacityBefore = await probe.measure(PROBE_MS);
  const s = sampleParallelism(matmul, WINDOW_MS);
  const capacityAfter = await probe.measure(PROBE_MS);
  if (capacityBefore >= calmCapacity && capacityAfter >= calmCapacity) calm++;
  rounds.push({
    capacityBefore,
    capacityAfter,
    cpuPerWall: s.cpuPerWall,
    msPerMatmul: s.wallMs / s.calls,
    cpuMs: s.cpuMs,
    mainThreadCpuMs: s.threadCpuMs?.main ?? null,
    otherThreadsCpuMs: s.threadCpuMs?.others.slice(0, 3) ?? null,
  });
}
await probe.close();
tf.dispose([a, b]);
process.stdout.write(`${JSON.stringify({ init: wasmInitResult(), rounds })}\n`);
