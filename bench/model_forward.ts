/**
 * Speed of the small Align-DETR / DINO R50 4-scale model (the parity fixture's settings: 2 encoder +
 * 2 decoder layers, 20 queries, 5 classes, dn_number 10) on a batch of 2 at 320x320: eval forward, and
 * a training step's forward + backward (DINO criterion: Hungarian matching, focal + L1 + GIoU with
 * aux / enc / DN losses, gradients to every trainable parameter). Seconds per iteration (median of
 * interleaved rounds) and the backend.
 *
 * `--msda` instead measures multi-scale deformable attention alone at 640x640 (4 levels 80x80 ..
 * 10x10 = 8500 tokens, 8 heads, 4 points, embed 256): the decoder cross-attention (900 queries) and
 * the encoder self-attention (every token a query), per sampling implementation: time and the peak of
 * live tensor buffers for forward and forward + backward (sampled after every kernel; tf.profile's
 * peakBytes is not used because it counts every reshape view as new bytes).
 *
 *   npx tsx bench/model_forward.ts                    # wasm (all cores) if it loads, else cpu
 *   npx tsx bench/model_forward.ts --backend cpu --rounds 3
 *   npx tsx bench/model_forward.ts --msda [--batch 1] [--impls js,gather]
 *   options: --backend cpu|wasm|wasm:N|node, --rounds N (default 5), --size N (default 320), --batch N (default 2)
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, seedEverything } from '@detr/core';
import { DINOCriterion, SigmoidFocalLoss, expandWeightDict, sumLosses } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { msDeformAttnCore, type MsDeformAttnImpl } from '@detr/transformers';
import { buildSmallDino } from '../projects/dino/test/build_small_model';
import type { DetectorBatch } from '../projects/dino/src/index';
import { type BenchRow, describeBackend, exitWithUsageOnHelp, fmtMs, machineLine, printTable, runRows, setupBackend } from './common';

interface Args {
  backend: string;
  rounds: number;
  size: number;
  batch: number;
  msda: boolean;
  impls: MsDeformAttnImpl[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { backend: 'wasm', rounds: 5, size: 320, batch: 2, msda: false, impls: ['js', 'gather'] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const val = argv[++i];
      if (val === undefined) throw new Error(`bench/model_forward.ts: ${k} needs a value`);
      return val;
    };
    if (k === '--backend') a.backend = v();
    else if (k === '--rounds') a.rounds = Number(v());
    else if (k === '--size') a.size = Number(v());
    else if (k === '--batch') a.batch = Number(v());
    else if (k === '--msda') a.msda = true;
    else if (k === '--impls') a.impls = v().split(',') as MsDeformAttnImpl[];
    else throw new Error(`bench/model_forward.ts: unknown option ${k}`);
  }
  return a;
}

async function backend(spec: string): Promise<string> {
  try {
    return describeBackend(await setupBackend(spec));
  } catch (err) {
    console.log(`backend ${spec} unavailable (${(err as Error).message.split('\n')[0]}); using cpu`);
    return describeBackend(await setupBackend('cpu'));
  }
}

/** A random batch: images already normalised, 2..5 boxes per image, full-size masks. */
function randomBatch(b: number, size: number, rng: Rng): DetectorBatch {
  const targets = Array.from({ length: b }, () => {
    const n = rng.int(2, 6);
    const boxes = new Float32Array(4 * n);
    for (let j = 0; j < n; j++) boxes.set([rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)], 4 * j);
    return { labels: Int32Array.from({ length: n }, () => rng.int(0, 5)), boxes };
  });
  return {
    images: tf.randomNormal([b, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    masks: tf.zeros([b, size, size], 'bool') as tf.Tensor3D,
    targets,
    imageSizes: Array.from({ length: b }, () => [size, size] as [number, number]),
  };
}

async function modelBench(args: Args): Promise<void> {
  const name = await backend(args.backend);
  seedEverything(0);
  const criterion = new DINOCriterion({
    num_classes: 5,
    matcher: new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }),
    class_loss: new SigmoidFocalLoss({ alpha: 0.25, gamma: 2 }),
    weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 1, enc: true, dn: true }),
  });
  const model = buildSmallDino({ criterion });
  const batch = randomBatch(args.batch, args.size, new Rng(1));
  const vars = model.trainableVariables().map((v) => v.variable);
  console.log(`${machineLine()}\nbackend ${name}; small DINO (R50, 2+2 layers, 20 queries), batch ${args.batch} at ${args.size}x${args.size}; ${vars.length} trainable tensors, ${(model.numParameters(true) / 1e6).toFixed(1)} M trainable parameters`);
  const rows: BenchRow[] = [
    { name: 'forward (eval)', fn: () => model.eval().forward(batch, { training: false }) as unknown as tf.TensorContainer },
    {
      name: 'forward + backward (train, DINO criterion)',
      fn: () => {
        model.train();
        const { value, grads } = tf.variableGrads(() => sumLosses(model.losses(batch)), vars);
        return [value, ...Object.values(grads)];
      },
      baseline: 'forward (eval)',
    },
  ];
  const results = runRows(rows, { rounds: args.rounds, rowBudgetMs: 600_000, log: console.log });
  printTable([
    ['row', 'median s/iter', 'samples', 'x forward'],
    ...results.map((r) => [r.name, r.medianMs === null ? '-' : (r.medianMs / 1000).toFixed(2), String(r.samples.length), r.ratio === null ? '' : r.ratio.toFixed(2)]),
  ]);
  console.log(`tensors alive after the runs: ${tf.memory().numTensors}`);
}

const MIB = 1024 * 1024;

/**
 * Peak bytes of distinct tensor buffers created while fn runs and alive at the same time: buffers are
 * counted when the engine first tracks their data id and dropped when it removes it (tfjs 4.22's
 * `trackTensor` / `removeDataId`, wrapped for the call). Views (reshape) share a buffer: counted once.
 */
function peakBufferBytes(fn: () => void): number {
  type Engine = {
    trackTensor: (a: tf.Tensor, backend: unknown) => void;
    removeDataId: (dataId: object, backend: unknown) => void;
    state: { tensorInfo: WeakMap<object, unknown> };
  };
  const engine = tf.engine() as unknown as Engine;
  const live = new Map<object, number>();
  let current = 0;
  let peak = 0;
  const { trackTensor, removeDataId } = engine;
  engine.trackTensor = function (this: Engine, a, backend) {
    const fresh = !this.state.tensorInfo.has(a.dataId);
    trackTensor.call(this, a, backend);
    if (fresh && a.dtype !== 'string') {
      const bytes = a.size * (a.dtype === 'bool' ? 1 : 4);
      live.set(a.dataId, bytes);
      current += bytes;
      peak = Math.max(peak, current);
    }
  };
  engine.removeDataId = function (this: Engine, dataId, backend) {
    removeDataId.call(this, dataId, backend);
    const bytes = live.get(dataId);
    if (bytes !== undefined && !this.state.tensorInfo.has(dataId)) {
      current -= bytes;
      live.delete(dataId);
    }
  };
  try {
    fn();
  } finally {
    engine.trackTensor = trackTensor;
    engine.removeDataId = removeDataId;
  }
  return peak;
}

async function msdaBench(args: Args): Promise<void> {
  const name = await backend(args.backend);
  const shapes: [number, number][] = [[80, 80], [40, 40], [20, 20], [10, 10]];
  const nv = shapes.reduce((s, [h, w]) => s + h * w, 0);
  const [b, heads, d, levels, points] = [args.batch, 8, 32, 4, 4];
  console.log(`${machineLine()}\nbackend ${name}; deformable attention sampling at 640x640: ${nv} tokens, batch ${b}, ${heads} heads x ${levels} levels x ${points} points, head dim ${d}`);
  const table: string[][] = [['case', 'impl', 'fwd ms', 'fwd peak MiB', 'fwd+bwd ms', 'fwd+bwd peak MiB', 'one gather MiB']];
  for (const [label, nq] of [['decoder (900 queries)', 900], ['encoder (all tokens)', nv]] as const) {
    const value = tf.randomNormal([b, nv, heads, d]);
    const loc = tf.randomUniform([b, nq, heads, levels, points, 2], 0, 1, 'float32', 2);
    const attn = tf.tidy(() => tf.softmax(tf.randomNormal([b, nq, heads, levels * points]), -1).reshape([b, nq, heads, levels, points]));
    for (const impl of args.impls) {
      const fwd = () => msDeformAttnCore(value, shapes, loc, attn, impl);
      const grads = tf.grads((v, l, a) => msDeformAttnCore(v, shapes, l, a, impl).sum());
      const time = (f: () => tf.TensorContainer): number => {
        const t0 = performance.now();
        const out = f();
        tf.dispose(out);
        return performance.now() - t0;
      };
      time(() => fwd()); // warm-up
      const fwdMs = Math.min(time(() => fwd()), time(() => fwd()));
      const fwdPeak = peakBufferBytes(() => fwd().dispose());
      const bwdMs = time(() => grads([value, loc, attn]));
      const bwdPeak = peakBufferBytes(() => tf.dispose(grads([value, loc, attn])));
      table.push([label, impl, fmtMs(fwdMs), (fwdPeak / MIB).toFixed(1), fmtMs(bwdMs), (bwdPeak / MIB).toFixed(1), ((b * nq * heads * points * d * 4) / MIB).toFixed(1)]);
    }
    tf.dispose([value, loc, attn]);
  }
  printTable(table);
  console.log('peak = distinct live tensor buffers above the inputs (value, locations, weights), outputs and saved copies included. The js impl also holds JS copies of its inputs while it runs (and in backward a float64 accumulator of d value); "one gather" is a single [B*Nq*heads*P, d] float32 gather of the gather impl.');
}

exitWithUsageOnHelp(import.meta.url, process.argv.slice(2));
const args = parseArgs(process.argv.slice(2));
if (args.msda) await msdaBench(args);
else await modelBench(args);
try {
  tf.removeBackend('wasm'); // ends wasm threads so the process can exit
} catch {
  /* not registered */
}
