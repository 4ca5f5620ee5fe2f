/**
 * One training iteration (forward + criterion + backward + gradient clipping + AdamW) of a detector built
 * from a real config, with a breakdown by model part (issue 6 item 6): a project's small config (default
 * Align-DETR's) on its embedded MNIST batches, and the R50 4-scale config on a synthetic batch (2 x
 * 512x512 by default).
 * Per part: wall ms, CPU ms (process.cpuUsage: user + system of every thread, so both wasm threads
 * count; the machine is shared, CPU time is the steadier number) and kernels launched, forward and
 * backward separately. Backward work is attributed to the part whose forward recorded the tape node.
 * `--eval N` times the eval forward + post-processing (`predict`) on N test batches instead.
 *
 *   npx tsx bench/train_step.ts                                 # small Align-DETR, wasm, 3 timed steps
 *   npx tsx bench/train_step.ts --config r50                    # aligndetr_k2_r50_4scale_12ep, 2 x 512x512
 *                                                               # (on wasm with activation checkpointing; --no-checkpoint)
 *   npx tsx bench/train_step.ts --backends wasm:2,wasm:1,cpu    # one child process per backend + ratios
 *   npx tsx bench/train_step.ts --eval 8                        # eval forward of 8 test batches (batch 8)
 *   npx tsx bench/train_step.ts --project dab-detr              # another project's small config
 *   npx tsx bench/train_step.ts --synthetic --batch 4 --size 128 --bare --iters 7
 *                                   # the batch bench/torch/align_small_step.py times in PyTorch (whole-step ratio)
 *   npx tsx bench/train_step.ts --profile                       # tf.profile kernel ranking of one step
 *   npx tsx bench/train_step.ts --kernels 40                    # top 40 (part, kernel) by exclusive ms
 *   npx tsx bench/train_step.ts model.num_queries=50            # config overrides (key=value, as train_net)
 *   options: --config small|r50|NAME|PATH, --project P, --backend SPEC, --iters N (3), --warmup N (1),
 *            --batch N, --size N (synthetic batches), --synthetic (small config on synthetic batches too),
 *            --detail (per-module rows), --bare (no per-part instrumentation: totals without its
 *            overhead; kernels are then not counted), --json (last line JSON, used for --backends children)
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, seedEverything, wasmHeapBytes, type Module } from '@detr/core';
import { clipGradNorm, type AdamW, type Batch, type EvalLoader, type ParamScheduler, type TrainableDetector, type TrainLoader } from '@detr/engine';
import { instantiate, runAsyncSetup } from '@detr/registry';
import { defaultConfigFile, findConfigFile, loadAndResolve } from '../tools/cli_common';
import { describeBackend, exitWithUsageOnHelp, machineLine, median, printTable, runChild, setupBackend, syntheticBatch } from './common';

interface Args {
  config: string;
  project: string;
  backend: string;
  backends: string[] | null;
  iters: number;
  warmup: number;
  batch: number | null;
  size: number | null;
  synthetic: boolean;
  evalBatches: number;
  profile: boolean;
  kernels: number;
  detail: boolean;
  json: boolean;
  /** No per-part instrumentation (totals only): the overhead-free step time. */
  bare: boolean;
  /** R50 configs on wasm: activation checkpointing on (default; --no-checkpoint). */
  checkpoint: boolean;
  overrides: string[];
}

const CHECKPOINT_OVERRIDES = ['+model.backbone.activation_checkpoint=true', '+model.transformer.encoder.activation_checkpoint=true', '+model.transformer.decoder.activation_checkpoint=true'];

/** `small`: the project's default config (its small config on the embedded dataset); `r50`: Align-DETR's R50 4-scale. */
const CONFIG_ALIASES: Record<string, string> = { r50: 'aligndetr_k2_r50_4scale_12ep' };

function parseArgs(argv: string[]): Args {
  const a: Args = { config: 'small', project: 'align-detr', backend: 'wasm', backends: null, iters: 3, warmup: 1, batch: null, size: null, synthetic: false, evalBatches: 0, profile: false, kernels: 0, detail: false, json: false, bare: false, checkpoint: true, overrides: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const val = argv[++i];
      if (val === undefined) throw new Error(`bench/train_step.ts: ${k} needs a value`);
      return val;
    };
    const int = (name: string): number => {
      const n = Number(v());
      if (!Number.isInteger(n) || n < 0) throw new Error(`bench/train_step.ts: ${name} must be an integer >= 0`);
      return n;
    };
    if (k === '--config') a.config = v();
    else if (k === '--project') a.project = v();
    else if (k === '--backend') a.backend = v();
    else if (k === '--backends') a.backends = v().split(',');
    else if (k === '--iters') a.iters = int(k);
    else if (k === '--warmup') a.warmup = int(k);
    else if (k === '--batch') a.batch = int(k);
    else if (k === '--size') a.size = int(k);
    else if (k === '--synthetic') a.synthetic = true;
    else if (k === '--eval') a.evalBatches = int(k);
    else if (k === '--profile') a.profile = true;
    else if (k === '--kernels') a.kernels = int(k);
    else if (k === '--detail') a.detail = true;
    else if (k === '--json') a.json = true;
    else if (k === '--bare') a.bare = true;
    else if (k === '--no-checkpoint') a.checkpoint = false;
    else if (/^\+?[A-Za-z_][\w.]*=/.test(k)) a.overrides.push(k);
    else throw new Error(`bench/train_step.ts: unknown option ${k}`);
  }
  if (a.iters < 1) throw new Error('bench/train_step.ts: --iters must be >= 1');
  return a;
}

// ---------------------------------------------------------------------------------------------------
// Attribution of wall time, CPU time and kernel launches to named parts.

interface PartStats {
  wallMs: number;
  cpuMs: number;
  kernels: number;
}

/**
 * A stack of part names ('encoder', 'encoder/msda', ...) with a mode ('fwd' | 'bwd' | 'opt' | ...):
 * time and kernels go to `${mode}:${top of stack}` until the next switch.
 */
/** TRAIN_STEP_TRACE=1: log every part entered in forward (to find where a step stalls). */
const TRACE = process.env.TRAIN_STEP_TRACE === '1';
let lastTraced = '';

class PartClock {
  private stack: string[] = [];
  private modeStack: string[] = [];
  mode = 'other';
  name = '';
  private lastWall = performance.now();
  private lastCpu = process.cpuUsage();
  readonly stats = new Map<string, PartStats>();

  private key(): string {
    return this.name ? `${this.mode}:${this.name}` : this.mode;
  }

  private entry(key: string): PartStats {
    let s = this.stats.get(key);
    if (!s) this.stats.set(key, (s = { wallMs: 0, cpuMs: 0, kernels: 0 }));
    return s;
  }

  private flush(): void {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const s = this.entry(this.key());
    s.wallMs += wall - this.lastWall;
    s.cpuMs += (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    this.lastWall = wall;
    this.lastCpu = cpu;
  }

  /** Enter part `name` (nested below the current one unless `absolute`) in `mode` (default: unchanged). */
  push(name: string, mode?: string, absolute = false): void {
    const next = absolute || !this.name ? name : `${this.name}/${name}`;
    const nextMode = mode ?? this.mode;
    if (TRACE && `${nextMode}:${next}` !== lastTraced) {
      lastTraced = `${nextMode}:${next}`;
      console.log(`[trace ${(performance.now() / 1000).toFixed(1)} s] ${lastTraced}`);
    }
    this.stack.push(this.name);
    this.modeStack.push(this.mode);
    if (next === this.name && nextMode === this.mode) return;
    this.flush();
    this.name = next;
    this.mode = nextMode;
  }

  pop(): void {
    const name = this.stack.pop() ?? '';
    const mode = this.modeStack.pop() ?? 'other';
    if (name === this.name && mode === this.mode) return;
    this.flush();
    this.name = name;
    this.mode = mode;
  }

  kernel(): void {
    this.entry(this.key()).kernels++;
  }

  /** Close the running interval (call before reading stats). */
  settle(): void {
    this.flush();
  }

  reset(): void {
    this.settle();
    this.stats.clear();
  }
}

type Engine = {
  runKernel: (name: string, ...rest: unknown[]) => unknown;
  addTapeNode: (...args: unknown[]) => void;
  state: { activeTape: { gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor> }[] | null };
};

/**
 * Counts every kernel dispatched through the engine, and tags every tape node with the part that
 * recorded it so that its gradient thunks run as `bwd:<part>`. Returns a function that undoes it.
 */
/** (mode:part kernel) -> exclusive ms and calls, when --kernels is on. */
let kernelTimes: Map<string, { ms: number; n: number }> | null = null;
const kernelDepthChild: number[] = [];
/** Part levels kept in the --kernels keys (2, or 9 with --detail). */
let kernelDepth = 2;

function instrumentEngine(clock: PartClock): () => void {
  const engine = tf.engine() as unknown as Engine;
  const runKernel = engine.runKernel;
  const addTapeNode = engine.addTapeNode;
  engine.runKernel = function (this: unknown, name: string, ...rest: unknown[]) {
    clock.kernel();
    if (!kernelTimes) return runKernel.call(this, name, ...rest);
    // Exclusive time per (part, kernel): kernels run synchronously on cpu / wasm; nested kernels
    // (a kernel built from other ops) are subtracted from their parent.
    const t0 = performance.now();
    kernelDepthChild.push(0);
    try {
      return runKernel.call(this, name, ...rest);
    } finally {
      const total = performance.now() - t0;
      const child = kernelDepthChild.pop() as number;
      if (kernelDepthChild.length) kernelDepthChild[kernelDepthChild.length - 1] += total;
      const key = `${clock.mode}:${clock.name.split('/').slice(0, kernelDepth).join('/')} ${name}`;
      const e = kernelTimes.get(key) ?? { ms: 0, n: 0 };
      e.ms += total - child;
      e.n++;
      kernelTimes.set(key, e);
    }
  };
  engine.addTapeNode = function (this: Engine, ...args: unknown[]) {
    addTapeNode.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    const part = clock.name || 'detector';
    const gradient = node?.gradient;
    if (node && gradient) {
      node.gradient = (dys) => {
        // customGrad ops do their backward work here (thunks only hand out the results); other ops
        // in the thunks below.
        clock.push(part, 'bwd', true);
        let thunks: Record<string, () => tf.Tensor>;
        try {
          thunks = gradient(dys);
        } finally {
          clock.pop();
        }
        const wrapped: Record<string, () => tf.Tensor> = {};
        for (const [input, thunk] of Object.entries(thunks)) {
          wrapped[input] = () => {
            clock.push(part, 'bwd', true);
            try {
              return thunk();
            } finally {
              clock.pop();
            }
          };
        }
        return wrapped;
      };
    }
  };
  return () => {
    delete (engine as Partial<Engine>).runKernel;
    delete (engine as Partial<Engine>).addTapeNode;
    if (engine.runKernel !== runKernel) engine.runKernel = runKernel;
    if (engine.addTapeNode !== addTapeNode) engine.addTapeNode = addTapeNode;
  };
}

/** Wraps obj[method] so that its calls run as part `name` (nested in the caller's part). */
function wrapMethod(clock: PartClock, obj: object | null | undefined, method: string, name: string): void {
  if (!obj) return;
  const target = obj as Record<string, unknown>;
  const fn = target[method];
  if (typeof fn !== 'function') return;
  target[method] = function (this: unknown, ...args: unknown[]) {
    clock.push(name);
    try {
      return (fn as (...a: unknown[]) => unknown).apply(this, args);
    } finally {
      clock.pop();
    }
  };
}

type AnyModel = Module & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Puts the detector's parts (DINO / Align-DETR layout; missing ones are skipped) under the clock. */
function instrumentModel(clock: PartClock, model: AnyModel, detail: boolean): void {
  wrapMethod(clock, model, 'forward', 'detector');
  wrapMethod(clock, model.backbone, 'forward', 'backbone');
  wrapMethod(clock, model.neck, 'forward', 'neck');
  wrapMethod(clock, model.position_embedding, 'forward', 'pos_embed');
  const tr = model.transformer;
  wrapMethod(clock, tr, 'forward', 'transformer');
  wrapMethod(clock, tr?.encoder, 'forward', 'encoder');
  wrapMethod(clock, tr?.decoder, 'forward', 'decoder');
  const criterion = model.criterion;
  wrapMethod(clock, criterion, 'forward', 'criterion');
  wrapMethod(clock, criterion?.matcher, 'matchData', 'matching');
  wrapMethod(clock, criterion?.classLoss, 'forward', 'class_loss');
  if (detail) {
    for (const [name, m] of model.namedModules()) {
      const cls = m.constructor.name;
      if (cls === 'MultiScaleDeformableAttention') wrapMethod(clock, m, 'forward', 'msda');
      else if (cls === 'MultiheadAttention') wrapMethod(clock, m, 'forward', 'self_attn');
      else if (cls === 'FFN') wrapMethod(clock, m, 'forward', 'ffn');
      else if (cls === 'LayerNorm') wrapMethod(clock, m, 'forward', 'layernorm');
      else if (cls === 'GroupNorm' || cls === 'FrozenBatchNorm2d') wrapMethod(clock, m, 'forward', 'norm');
      else if (cls === 'Conv2d' || cls === 'ConvWithNorm') wrapMethod(clock, m, 'forward', 'conv');
      else if (/^(class_embed|bbox_embed)\.\d+$/.test(name) || name === 'transformer.decoder.ref_point_head') wrapMethod(clock, m, 'forward', 'heads');
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Model, optimizer and batches from the config.

interface Built {
  file: string;
  model: TrainableDetector & AnyModel;
  optimizer: AdamW;
  scheduler: ParamScheduler;
  clip: { maxNorm: number; normType: number } | null;
  nextBatch: () => Batch;
  evalLoader: (() => Generator<Batch>) | null;
  describeBatch: string;
}


async function build(args: Args): Promise<Built> {
  const spec = args.config === 'small' ? defaultConfigFile(args.project) : (CONFIG_ALIASES[args.config] ?? args.config);
  const file = args.config === 'small' ? spec : findConfigFile(spec, args.project);
  const overrides = [...args.overrides];
  const isCoco = /r50|r101|swin|4scale|5scale/i.test(spec) && !/mnist/.test(spec);
  const synthetic = args.synthetic || isCoco;
  if (args.batch !== null && !synthetic) overrides.push(`dataloader.train.batch_size=${args.batch}`);
  // An R50 4-scale step at batch 2 x 512 px needs more than the 4 GiB wasm heap unless the backbone,
  // encoder and decoder recompute their activations in the backward pass (docs/performance.md).
  if (isCoco && args.backend.startsWith('wasm') && args.checkpoint && /dino|align/i.test(spec)) {
    overrides.push(...CHECKPOINT_OVERRIDES);
    console.log(`activation checkpointing on (wasm heap): ${CHECKPOINT_OVERRIDES.join(' ')} (--no-checkpoint turns it off)`);
  }
  const { resolved } = await loadAndResolve(file, overrides);
  const r = resolved as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  seedEverything(Number(r.train?.seed ?? 42));
  if (!synthetic) await runAsyncSetup(r.dataloader);
  const model = instantiate<TrainableDetector & AnyModel>(r.model);
  const optimizerCfg = { ...r.optimizer, params: { ...r.optimizer.params, model } };
  const optimizer = instantiate<AdamW>(optimizerCfg);
  const scheduler = instantiate<ParamScheduler>(r.lr_multiplier);
  const clip = r.train?.clip_grad?.enabled ? { maxNorm: Number(r.train.clip_grad.params?.max_norm ?? 0.1), normType: Number(r.train.clip_grad.params?.norm_type ?? 2) } : null;
  if (synthetic) {
    const b = args.batch ?? 2;
    const size = args.size ?? (isCoco ? 512 : 128);
    const rng = new Rng(7);
    let seed = 0;
    const numClasses = Number(r.model.num_classes);
    const evalBatch = () => {
      const batch = syntheticBatch(b, size, numClasses, rng, ++seed);
      return batch;
    };
    return {
      file,
      model,
      optimizer,
      scheduler,
      clip,
      nextBatch: () => syntheticBatch(b, size, numClasses, rng, ++seed),
      evalLoader: function* () {
        for (;;) yield evalBatch();
      },
      describeBatch: `synthetic batch ${b} x ${size}x${size}, 2-6 boxes per image, ${numClasses} classes`,
    };
  }
  const loader = instantiate<TrainLoader>(r.dataloader.train);
  const testLoader = instantiate<EvalLoader>(r.dataloader.test);
  return {
    file,
    model,
    optimizer,
    scheduler,
    clip,
    nextBatch: () => loader.next(),
    evalLoader: () => testLoader.epoch(),
    describeBatch: `config train loader (batch ${r.dataloader.train.batch_size}); eval: test loader (batch ${r.dataloader.test.batch_size})`,
  };
}

// ---------------------------------------------------------------------------------------------------
// One step, as packages/engine/src/trainer.ts runs it (grad_accum_steps 1).

interface StepSample {
  wallMs: number;
  cpuMs: number;
  kernels: number;
  parts: Map<string, PartStats>;
  batchShape: number[];
  loss: number;
}

function trainStep(built: Built, clock: PartClock, iter: number, maxIter: number): StepSample {
  const { model, optimizer } = built;
  clock.reset();
  const m = built.scheduler.at(iter / maxIter);
  for (const g of optimizer.groups) g.lr = g.initial_lr * m;
  clock.push('data', 'data', true);
  const batch = built.nextBatch();
  clock.pop();
  const batchShape = [...batch.images.shape];
  const startWall = performance.now();
  const startCpu = process.cpuUsage();
  const vars = model.trainableVariables().map((v: { variable: tf.Variable }) => v.variable);
  let loss = NaN;
  let grads: Record<string, tf.Tensor> = {};
  try {
    clock.push('', 'bwd', true); // glue of the backward pass (gradient accumulation adds, ...)
    const out = tf.variableGrads(() => {
      clock.push('', 'fwd', true);
      try {
        const losses = model.forwardTrain(batch);
        return tf.addN(Object.values(losses)) as tf.Scalar;
      } finally {
        clock.pop();
      }
    }, vars);
    clock.pop();
    loss = out.value.dataSync()[0];
    out.value.dispose();
    grads = out.grads;
    clock.push('clip', 'opt', true);
    if (built.clip) grads = clipGradNorm(grads, built.clip.maxNorm, built.clip.normType).grads;
    clock.pop();
    clock.push('adamw', 'opt', true);
    optimizer.step(grads);
    clock.pop();
  } finally {
    tf.dispose(Object.values(grads));
    batch.images.dispose();
    batch.masks.dispose();
  }
  clock.settle();
  const wallMs = performance.now() - startWall;
  const cpu = process.cpuUsage(startCpu);
  const parts = new Map([...clock.stats].filter(([k]) => k !== 'data' && k !== 'data:data'));
  const kernels = [...parts.values()].reduce((s, p) => s + p.kernels, 0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, kernels, parts, batchShape, loss };
}

function evalStep(built: Built, clock: PartClock, batches: Generator<Batch>): StepSample | null {
  const next = batches.next();
  if (next.done) return null;
  const batch = next.value;
  clock.reset();
  const startWall = performance.now();
  const startCpu = process.cpuUsage();
  clock.push('', 'fwd', true);
  try {
    tf.tidy(() => {
      built.model.predict(batch);
    });
  } finally {
    clock.pop();
    batch.images.dispose();
    batch.masks.dispose();
  }
  clock.settle();
  const cpu = process.cpuUsage(startCpu);
  const parts = new Map(clock.stats);
  const kernels = [...parts.values()].reduce((s, p) => s + p.kernels, 0);
  return { wallMs: performance.now() - startWall, cpuMs: (cpu.user + cpu.system) / 1000, kernels, parts, batchShape: [...batch.images.shape], loss: NaN };
}

// ---------------------------------------------------------------------------------------------------
// Reports.

/** Median per key over samples (a key missing from a sample counts as 0). */
function medianParts(samples: StepSample[]): Map<string, PartStats> {
  const keys = new Set(samples.flatMap((s) => [...s.parts.keys()]));
  const out = new Map<string, PartStats>();
  for (const k of keys) {
    const get = (f: (p: PartStats) => number) => median(samples.map((s) => (s.parts.has(k) ? f(s.parts.get(k) as PartStats) : 0)));
    out.set(k, { wallMs: get((p) => p.wallMs), cpuMs: get((p) => p.cpuMs), kernels: get((p) => p.kernels) });
  }
  return out;
}

/** Rows per part: fwd and bwd columns side by side; `depth` 1 = top-level parts only. */
function partTable(parts: Map<string, PartStats>, depth: number): string[][] {
  const byPart = new Map<string, { fwd: PartStats; bwd: PartStats; other: PartStats }>();
  const zero = (): PartStats => ({ wallMs: 0, cpuMs: 0, kernels: 0 });
  for (const [key, s] of parts) {
    const [mode, name = ''] = key.includes(':') ? key.split(':', 2) : [key, ''];
    // Collapse below `depth`: the fwd/bwd of 'decoder/msda' count in 'decoder' at depth 1.
    const trimmed = name.split('/').slice(0, depth).join('/');
    const label = mode === 'fwd' || mode === 'bwd' ? trimmed || '(glue)' : `${mode}${trimmed ? ':' + trimmed : ''}`;
    let row = byPart.get(label);
    if (!row) byPart.set(label, (row = { fwd: zero(), bwd: zero(), other: zero() }));
    const slot = mode === 'fwd' ? row.fwd : mode === 'bwd' ? row.bwd : row.other;
    slot.wallMs += s.wallMs;
    slot.cpuMs += s.cpuMs;
    slot.kernels += s.kernels;
  }
  const f = (x: number) => (x === 0 ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const k = (x: number) => (x === 0 ? '' : String(Math.round(x)));
  const rows = [...byPart.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, r]) => {
    const fwd = { wallMs: r.fwd.wallMs + r.other.wallMs, cpuMs: r.fwd.cpuMs + r.other.cpuMs, kernels: r.fwd.kernels + r.other.kernels };
    return [label, f(fwd.wallMs), f(fwd.cpuMs), k(fwd.kernels), f(r.bwd.wallMs), f(r.bwd.cpuMs), k(r.bwd.kernels)];
  });
  return [['part', 'fwd wall ms', 'fwd cpu ms', 'fwd kernels', 'bwd wall ms', 'bwd cpu ms', 'bwd kernels'], ...rows];
}

interface RunSummary {
  backend: string;
  config: string;
  mode: 'train' | 'eval';
  wallS: number;
  cpuS: number;
  kernels: number;
  samples: number;
  perImageMs: number;
}

function summarize(args: Args, backendName: string, built: Built, samples: StepSample[], mode: 'train' | 'eval'): RunSummary {
  const wall = median(samples.map((s) => s.wallMs));
  const cpu = median(samples.map((s) => s.cpuMs));
  const kernels = median(samples.map((s) => s.kernels));
  const images = median(samples.map((s) => s.batchShape[0]));
  const log = (l: string) => console.log(l);
  log(`\n${mode === 'train' ? 'training iteration' : 'eval forward + post-processing (predict)'}: ${samples.length} timed samples`);
  samples.forEach((s, i) => log(`  #${i}: batch [${s.batchShape.join('x')}]  wall ${(s.wallMs / 1000).toFixed(2)} s  cpu ${(s.cpuMs / 1000).toFixed(2)} s  kernels ${s.kernels}${Number.isNaN(s.loss) ? '' : `  loss ${s.loss.toFixed(3)}`}`));
  const parts = medianParts(samples);
  log('\nbreakdown (median over samples; backward = gradient work of the tape nodes each part recorded):');
  printTable(partTable(parts, 1), log);
  if (args.detail) {
    log('\ndetail:');
    printTable(partTable(parts, 9), log);
  }
  log(`\n${mode === 'train' ? 's/iter' : 's/batch'}: wall ${(wall / 1000).toFixed(2)}  cpu ${(cpu / 1000).toFixed(2)}  kernels ${kernels}  (${backendName}; ${built.file.replace(/.*\/projects\//, 'projects/')})`);
  return { backend: backendName, config: args.config, mode, wallS: wall / 1000, cpuS: cpu / 1000, kernels, samples: samples.length, perImageMs: wall / images };
}

/** The top (part, kernel) pairs by exclusive wall ms per sample. */
function printKernelTimes(top: number, samples: number): void {
  if (!kernelTimes || top === 0) return;
  const rows = [...kernelTimes.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
  const total = [...kernelTimes.values()].reduce((s, e) => s + e.ms, 0);
  console.log(`\nkernels by exclusive wall ms per sample (all kernels: ${(total / samples).toFixed(0)} ms):`);
  printTable([['mode:part kernel', 'ms', 'calls'], ...rows.map(([k, e]) => [k, (e.ms / samples).toFixed(1), String(Math.round(e.n / samples))])]);
  kernelTimes = null;
}

function profileStep(built: Built, clock: PartClock): Promise<void> {
  return (async () => {
    const info = await tf.profile(() => {
      trainStep(built, clock, 0, 1);
    });
    const byName = new Map<string, { ms: number; n: number }>();
    for (const k of info.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.n++;
      byName.set(k.name, e);
    }
    const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30);
    console.log(`\ntf.profile of one step (syncs after every kernel: use to rank): ${info.kernels.length} kernels`);
    printTable([['kernel', 'ms', 'count'], ...rows.map(([n, e]) => [n, e.ms.toFixed(0), String(e.n)])]);
  })();
}

async function runOne(args: Args): Promise<RunSummary> {
  const info = await setupBackend(args.backend);
  const backendName = describeBackend(info);
  const built = await build(args);
  const model = built.model;
  console.log(`${machineLine()}\nbackend ${backendName}; ${built.file.replace(/.*\/projects\//, 'projects/')} ${args.overrides.join(' ')}`);
  console.log(`model ${model.constructor.name}: ${(model.numParameters() / 1e6).toFixed(2)} M parameters (${(model.numParameters(true) / 1e6).toFixed(2)} M trainable); ${built.describeBatch}`);
  const clock = new PartClock();
  if (!args.bare) instrumentModel(clock, model, args.detail);
  if (args.detail) kernelDepth = 9;
  const restore = args.bare ? () => {} : instrumentEngine(clock);
  try {
    if (args.evalBatches > 0) {
      model.eval();
      const it = (built.evalLoader as () => Generator<Batch>)();
      for (let i = 0; i < args.warmup; i++) evalStep(built, clock, it);
      const samples: StepSample[] = [];
      if (args.kernels) kernelTimes = new Map();
      for (let i = 0; i < args.evalBatches; i++) {
        const s = evalStep(built, clock, it);
        if (!s) break;
        samples.push(s);
      }
      const summary = summarize(args, backendName, built, samples, 'eval');
      printKernelTimes(args.kernels, samples.length);
      console.log(`eval: ${summary.perImageMs.toFixed(0)} ms per image (wall)`);
      return summary;
    }
    model.train();
    const total = args.warmup + args.iters;
    for (let i = 0; i < args.warmup; i++) {
      const s = trainStep(built, clock, i, total);
      console.log(`warm-up step ${i}: wall ${(s.wallMs / 1000).toFixed(2)} s, cpu ${(s.cpuMs / 1000).toFixed(2)} s, kernels ${s.kernels}`);
    }
    if (args.profile) await profileStep(built, clock);
    const samples: StepSample[] = [];
    if (args.kernels) kernelTimes = new Map();
    for (let i = 0; i < args.iters; i++) samples.push(trainStep(built, clock, args.warmup + i, total));
    const summary = summarize(args, backendName, built, samples, 'train');
    printKernelTimes(args.kernels, samples.length);
    // The wasm heap never shrinks: its size is the step's peak memory (allocator slack included).
    const heap = wasmHeapBytes();
    console.log(`tensors alive: ${tf.memory().numTensors}${heap ? `; wasm heap (peak) ${(heap / 2 ** 30).toFixed(2)} GiB` : ''}`);
    return summary;
  } finally {
    restore();
  }
}

exitWithUsageOnHelp(import.meta.url, process.argv.slice(2));
const args = parseArgs(process.argv.slice(2));
if (args.backends) {
  const forward = process.argv.slice(2).filter((a, i, all) => a !== '--backends' && all[i - 1] !== '--backends' && a !== '--json');
  const results = args.backends.map((spec) => runChild<RunSummary>(import.meta.url, [...forward, '--backend', spec, '--json']));
  console.log(`\n${machineLine()}`);
  const base = results[0];
  printTable([
    ['backend', `wall s/${base.mode === 'train' ? 'iter' : 'batch'}`, 'cpu s', 'kernels', `x ${base.backend} (wall)`, `x ${base.backend} (cpu)`],
    ...results.map((r) => [r.backend, r.wallS.toFixed(2), r.cpuS.toFixed(2), String(r.kernels), (r.wallS / base.wallS).toFixed(2), (r.cpuS / base.cpuS).toFixed(2)]),
  ]);
} else {
  const summary = await runOne(args);
  if (args.json) console.log(JSON.stringify(summary));
}
try {
  tf.removeBackend('wasm'); // ends wasm threads so the process can exit
} catch {
  /* not registered */
}
