/**
 * Shared helpers for bench/ scripts: backend setup from a spec ('cpu', 'wasm:1', 'wasm:2', 'node'),
 * wall-clock timing of tfjs work (forced to finish with dataSync), interleaved rounds with medians
 * (other work shares the machine, so every row is timed in every round and compared with a baseline
 * measured in the same process), child processes per backend configuration (wasm's thread count is
 * fixed once per process), and table printing.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendInfo, type Rng } from '@detr/core';
import type { Batch } from '@detr/engine';

/** 'cpu' | 'wasm:<threads>' | 'node' | 'node-gpu'. */
export type BackendSpec = string;

export async function setupBackend(spec: BackendSpec): Promise<BackendInfo> {
  const [name, threads] = spec.split(':');
  return selectBackend({ backend: name, threads: threads ? Number(threads) : undefined, log: () => {} });
}

export function describeBackend(info: BackendInfo): string {
  return info.kind === 'wasm' ? `wasm ${info.threads}t` : info.kind;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Forces completion of everything `fn` returned (tfjs kernels may be lazy) and disposes it. */
function settle(out: tf.TensorContainer | void): void {
  if (out == null) return;
  const tensors: tf.Tensor[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Tensor) tensors.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(out);
  for (const t of tensors) t.dataSync();
  tf.dispose(tensors);
}

/** Milliseconds for one call of `fn` (inside tf.tidy, results read back). */
export function timeOnce(fn: () => tf.TensorContainer | void): number {
  const t0 = performance.now();
  const out = tf.tidy(() => fn() as tf.TensorContainer);
  settle(out);
  return performance.now() - t0;
}

export interface BenchRow {
  name: string;
  fn: () => tf.TensorContainer | void;
  /** Floating-point operations per call, for a GFLOP/s column. */
  flops?: number;
  /** Name of a row of the same run this one is compared with (ratio = this / baseline). */
  baseline?: string;
  /** Skip this row (e.g. minutes on the cpu backend); the reason is printed. */
  skip?: string;
  setup?: () => void;
  teardown?: () => void;
}

export interface RowResult {
  name: string;
  medianMs: number | null;
  samples: number[];
  gflops: number | null;
  baseline?: string;
  ratio: number | null;
  skipped?: string;
}

/**
 * One warm-up call per row, then up to `rounds` rounds, each timing every row once (interleaved, so
 * load changes hit all rows alike). A row stops being timed after `rowBudgetMs` of total time (at least
 * one sample; a warm-up longer than the budget is used as the only sample). Returns medians, GFLOP/s
 * and ratios against the baseline rows.
 */
export function runRows(rows: BenchRow[], opts: { rounds?: number; rowBudgetMs?: number; log?: (l: string) => void } = {}): RowResult[] {
  const rounds = opts.rounds ?? 7;
  const budget = opts.rowBudgetMs ?? 20_000;
  const samples = new Map<string, number[]>();
  const spent = new Map<string, number>();
  const active = rows.filter((r) => !r.skip);
  const timed = (r: BenchRow): number => {
    r.setup?.();
    try {
      return timeOnce(r.fn);
    } finally {
      r.teardown?.();
    }
  };
  for (const r of active) {
    const ms = timed(r); // warm-up (kernel/operator creation, weight packing)
    spent.set(r.name, ms);
    // A row whose warm-up alone exceeds the budget keeps that one (pessimistic) sample.
    samples.set(r.name, ms > budget ? [ms] : []);
    opts.log?.(`  warm-up ${r.name}: ${ms.toFixed(1)} ms`);
  }
  for (let round = 0; round < rounds; round++) {
    let any = false;
    for (const r of active) {
      const s = samples.get(r.name) as number[];
      if (s.length > 0 && (spent.get(r.name) ?? 0) > budget) continue;
      const ms = timed(r);
      s.push(ms);
      spent.set(r.name, (spent.get(r.name) ?? 0) + ms);
      any = true;
    }
    if (!any) break;
  }
  const med = new Map(active.map((r) => [r.name, median(samples.get(r.name) as number[])]));
  return rows.map((r) => {
    if (r.skip) return { name: r.name, medianMs: null, samples: [], gflops: null, ratio: null, skipped: r.skip, baseline: r.baseline };
    const m = med.get(r.name) as number;
    const b = r.baseline ? med.get(r.baseline) : undefined;
    return {
      name: r.name,
      medianMs: m,
      samples: samples.get(r.name) as number[],
      gflops: r.flops ? r.flops / (m * 1e6) : null,
      baseline: r.baseline,
      ratio: b ? m / b : null,
    };
  });
}

/** Prints rows of cells as an aligned text table (first row: header). */
export function printTable(table: string[][], log: (l: string) => void = console.log): void {
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)));
  table.forEach((row, i) => {
    log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (i === 0) log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

export function fmtMs(ms: number | null): string {
  if (ms == null) return '-';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** Machine line for reports: cores, load average, node version. */
export function machineLine(): string {
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load avg ${load}, node ${process.version}, tfjs ${tf.version.tfjs}`;
}

/**
 * Runs `script` again in a child process with extra arguments (one backend configuration per
 * process) and returns the JSON printed on its last stdout line. Its other output is passed through.
 */
export function runChild<T>(scriptUrl: string, args: string[], timeoutMs = 3_600_000): T {
  const script = fileURLToPath(scriptUrl);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`bench child ${args.join(' ')} failed: ${r.error.message}`);
  const lines = (r.stdout ?? '').trim().split('\n');
  const last = lines.pop() ?? '';
  for (const l of lines) console.log(l);
  if (r.status !== 0) throw new Error(`bench child ${args.join(' ')} exited with ${r.status}`);
  return JSON.parse(last) as T;
}

/** A synthetic batch: normalised noise images, 2..6 GT boxes per image, no padding. */
export function syntheticBatch(b: number, size: number, numClasses: number, rng: Rng, seed: number): Batch {
  const targets = Array.from({ length: b }, () => {
    const n = rng.int(2, 7);
    const boxes = new Float32Array(4 * n);
    for (let j = 0; j < n; j++) boxes.set([rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)], 4 * j);
    return { labels: Int32Array.from({ length: n }, () => rng.int(0, numClasses)), boxes };
  });
  return {
    images: tf.randomNormal([b, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    masks: tf.zeros([b, size, size], 'bool') as tf.Tensor3D,
    targets,
    imageIds: Array.from({ length: b }, (_, i) => i),
    imageSizes: Array.from({ length: b }, () => [size, size] as [number, number]),
    origSizes: Array.from({ length: b }, () => [size, size] as [number, number]),
  };
}

/**
 * `--help` of a bench script: prints the script's leading doc comment (its usage lines) and exits.
 * Call with the script's `import.meta.url` before parsing its options.
 */
export function exitWithUsageOnHelp(scriptUrl: string, argv: string[]): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const text = fs.readFileSync(fileURLToPath(scriptUrl), 'utf8');
  const doc = /^\/\*\*([\s\S]*?)\*\//.exec(text);
  console.log(doc ? doc[1].split('\n').map((l) => l.replace(/^ ?\* ?/, '')).join('\n').trim() : `no usage text in ${fileURLToPath(scriptUrl)}`);
  process.exit(0);
}
