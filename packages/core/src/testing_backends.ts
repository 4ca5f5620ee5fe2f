/**
 * Test helpers for running the same checks on several backends (issue 6 item 5), part of
 * `@detr/core/testing`:
 *  - `useTestBackend('cpu' | 'wasm')`: the backend setup a test file runs under (wasm through
 *    selectBackend, so it gets its threads and the fast kernels; never a bare tf.setBackend('wasm')).
 *  - `HeadroomLog`: `expectClose` that also records the worst |a - r| / allowed ratio per fixture, so the
 *    margin left by the README section 2 tolerances can be measured (printed on request, never asserted).
 *  - `auditBackendStep(fn)`: `auditKernels` plus what it cannot see: kernels that ran while another
 *    backend was active, tensor data tfjs copied between backends, and kernels on a gradient path
 *    (x -> y of tf.grads / tf.variableGrads) without a gradient function. `stepAuditProblems` turns the
 *    result into messages naming each kernel.
 * Plain Errors, no vitest import (usable from scripts too).
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { auditKernels, type KernelAudit } from './backend/kernel_audit';
import { activeBackendName, selectBackend } from './backend/select_backend';
import type { RawTensor } from './io/index';
import { expectClose } from './testing';

export type TestBackend = 'cpu' | 'wasm';

/** The backends every parity fixture is checked on. */
export const TEST_BACKENDS: readonly TestBackend[] = ['cpu', 'wasm'];

/**
 * wasm threads for tests: env DETR_TEST_WASM_THREADS, else 1 (vitest runs two test files at once on
 * the 2-core machine, so more threads per file only oversubscribe the cores).
 */
export function testWasmThreads(): number {
  const env = process.env.DETR_TEST_WASM_THREADS;
  if (env === undefined || env === '') return 1;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DETR_TEST_WASM_THREADS must be a positive integer, got '${env}'`);
  return n;
}

/**
 * Makes `backend` the active backend of this test process: 'cpu' by tf.setBackend('cpu') (as the cpu
 * parity tests always ran), 'wasm' through selectBackend (initWasmBackend with `testWasmThreads()`,
 * fast kernels and gradient overrides, memory check). Returns the active backend's name.
 */
export async function useTestBackend(backend: TestBackend): Promise<string> {
  if (backend === 'wasm') {
    await selectBackend({ backend: 'wasm', threads: testWasmThreads(), log: () => {} });
  } else if (backend === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error("useTestBackend: tf.setBackend('cpu') failed");
  } else {
    throw new Error(`useTestBackend: unknown backend '${backend as string}' (use ${TEST_BACKENDS.join(' or ')})`);
  }
  const active = tf.getBackend();
  if (active !== backend) throw new Error(`useTestBackend: asked for '${backend}' but '${active}' is active`);
  return active;
}

// ---- headroom of the parity comparisons -------------------------------------------------------------

export interface HeadroomEntry {
  fixture: string;
  backend: string;
  label: string;
  rtol: number;
  /** Worst |a - r| / (rtol*|r| + rtol*max|r|) over the tensor: <= 1 passes; 0.1 is a 10x margin. */
  ratio: number;
}

/** Records the worst error / tolerance ratio of each comparison of one fixture on one backend. */
export class HeadroomLog {
  readonly entries: HeadroomEntry[] = [];

  constructor(
    readonly fixture: string,
    readonly backend: string,
  ) {}

  /** `expectClose` (README section 2 rule; throws on failure) that records its worst ratio. */
  readonly close = (actual: tf.Tensor | ArrayLike<number>, reference: RawTensor | tf.Tensor | ArrayLike<number>, rtol: number, label: string): number => {
    const ratio = expectClose(actual, reference, rtol, `${label} (${this.backend})`);
    this.entries.push({ fixture: this.fixture, backend: this.backend, label, rtol, ratio });
    return ratio;
  };

  /** The comparison with the least margin, or null before any. */
  worst(): HeadroomEntry | null {
    let w: HeadroomEntry | null = null;
    for (const e of this.entries) if (w === null || e.ratio > w.ratio) w = e;
    return w;
  }

  summary(): string {
    const w = this.worst();
    if (!w) return `headroom ${this.backend} ${this.fixture}: no comparisons`;
    return `headroom ${this.backend} ${this.fixture}: worst error/tolerance ${w.ratio.toExponential(2)} (${w.label}, rtol ${w.rtol}) over ${this.entries.length} comparisons`;
  }
}

/**
 * Reports a log when env DETR_PARITY_HEADROOM is set: '1' prints the summary; any other value is a file
 * that gets one JSON line per comparison appended (to collect the margins of a whole test run).
 */
export function reportHeadroom(log: HeadroomLog): void {
  const target = process.env.DETR_PARITY_HEADROOM;
  if (!target) return;
  if (target === '1') {
    console.log(log.summary());
    return;
  }
  fs.appendFileSync(target, log.entries.map((e) => JSON.stringify(e)).join('\n') + (log.entries.length ? '\n' : ''));
}

// ---- audit of a closure on one backend --------------------------------------------------------------

export interface BackendMove {
  from: string;
  to: string;
  shape: number[];
  dtype: string;
}

export interface BackendStepAudit extends KernelAudit {
  /** The backend the closure was meant to run on. */
  backend: string;
  /** Kernels dispatched while another backend was active, with that backend. */
  ranElsewhere: { kernel: string; backend: string }[];
  /** Tensor data tfjs moved between backends (it copies data to the backend of the kernel reading it). */
  moves: BackendMove[];
  /** Kernels on a gradient path (from an x to the y of tf.grads / tf.variableGrads) with no gradient. */
  gradientMissing: string[];
  /** The error that stopped the closure (tfjs throws on a kernel missing for the active backend), or null. */
  error: Error | null;
}

interface TapeNodeLike {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: unknown;
}

interface EngineInternals {
  runKernel: (name: string, ...rest: unknown[]) => unknown;
  moveData: (backend: tf.KernelBackend, dataId: object) => void;
  gradients: (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => unknown;
  registry: Record<string, tf.KernelBackend>;
  state: { activeTape: TapeNodeLike[] | null; tensorInfo: { get(dataId: object): { backend: tf.KernelBackend; shape: number[]; dtype: string } | undefined } };
}

/** Tape nodes connecting some x to y (the same two passes as tfjs's getFilteredNodesXToY). */
function nodesFromXToY(tape: TapeNodeLike[], xs: tf.Tensor[], y: tf.Tensor): TapeNodeLike[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => t != null && fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const onPath: TapeNodeLike[] = [];
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!node.outputs.some((o) => o != null && toY.has(o.id))) continue;
    for (const t of Object.values(node.inputs)) if (t != null) toY.add(t.id);
    if (nodesFromX.has(node.id)) onPath.push(node);
  }
  return onPath.reverse();
}

function setOwn<K extends keyof EngineInternals>(engine: EngineInternals, key: K, value: EngineInternals[K]): () => void {
  const hadOwn = Object.prototype.hasOwnProperty.call(engine, key);
  const own = engine[key];
  engine[key] = value;
  return () => {
    if (hadOwn) engine[key] = own;
    else delete (engine as Partial<EngineInternals>)[key];
  };
}

/**
 * Runs `fn` once on the active backend, which must be `opts.backend` (default 'wasm'), under
 * `auditKernels(fn, {backends: [backend]})`, and also records kernels dispatched on another backend,
 * cross-backend data moves and gradient-path kernels without a gradient. An error thrown by `fn` is
 * caught and returned (a kernel missing on the backend throws there), so the audit is always complete.
 */
export async function auditBackendStep(
  fn: () => tf.TensorContainer | Promise<tf.TensorContainer> | void | Promise<void>,
  opts: { backend?: string } = {},
): Promise<BackendStepAudit> {
  const backend = opts.backend ?? 'wasm';
  const active = activeBackendName();
  if (active !== backend) throw new Error(`auditBackendStep: the active backend is '${active}', not '${backend}' (set it up first, e.g. useTestBackend)`);
  const engine = tf.engine() as unknown as EngineInternals;
  const nameOf = (b: tf.KernelBackend) => Object.keys(engine.registry).find((k) => engine.registry[k] === b) ?? 'unknown';
  const ranElsewhere = new Map<string, { kernel: string; backend: string }>();
  const moves: BackendMove[] = [];
  const gradientMissing = new Set<string>();

  const origRunKernel = engine.runKernel;
  const origMoveData = engine.moveData;
  const origGradients = engine.gradients;
  const restore = [
    setOwn(engine, 'runKernel', function (this: unknown, name: string, ...rest: unknown[]) {
      const now = activeBackendName() ?? 'none';
      if (now !== backend) ranElsewhere.set(`${name}@${now}`, { kernel: name, backend: now });
      return origRunKernel.call(this, name, ...rest);
    }),
    setOwn(engine, 'moveData', function (this: unknown, to: tf.KernelBackend, dataId: object) {
      const info = engine.state.tensorInfo.get(dataId);
      moves.push({ from: info ? nameOf(info.backend) : 'unknown', to: nameOf(to), shape: info ? [...info.shape] : [], dtype: info?.dtype ?? 'unknown' });
      return origMoveData.call(this, to, dataId);
    }),
    setOwn(engine, 'gradients', function (this: unknown, f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) {
      const watched = () => {
        const y = f();
        const tape = engine.state.activeTape;
        if (tape && y instanceof tf.Tensor) {
          for (const node of nodesFromXToY(tape, xs, y)) if (node.gradient == null) gradientMissing.add(node.kernelName);
        }
        return y;
      };
      return origGradients.call(this, watched, xs, dy, allowNoGradients);
    }),
  ];
  let error: Error | null = null;
  let audit: KernelAudit;
  try {
    audit = await auditKernels(
      async () => {
        try {
          return await fn();
        } catch (err) {
          error = err instanceof Error ? err : new Error(String(err));
          return undefined;
        }
      },
      { backends: [backend] },
    );
  } finally {
    for (const r of restore.reverse()) r();
  }
  return { ...audit, backend, ranElsewhere: [...ranElsewhere.values()], moves, gradientMissing: [...gradientMissing].sort(), error };
}

/** Every problem of an audit as one message each, naming `label` (e.g. the project) and the kernel; [] when clean. */
export function stepAuditProblems(audit: BackendStepAudit, label: string): string[] {
  const b = audit.backend;
  const problems: string[] = [];
  for (const k of audit.missing[b] ?? []) problems.push(`${label}: kernel ${k} is missing on ${b}`);
  for (const { kernel, backend } of audit.ranElsewhere) problems.push(`${label}: kernel ${kernel} fell back to the ${backend} backend`);
  const moved = new Map<string, number>();
  for (const m of audit.moves) moved.set(`${m.from} -> ${m.to}`, (moved.get(`${m.from} -> ${m.to}`) ?? 0) + 1);
  for (const [dir, n] of moved) problems.push(`${label}: ${n} tensor(s) copied ${dir} (a computation outside ${b})`);
  for (const k of audit.gradientMissing) problems.push(`${label}: kernel ${k} is on a gradient path but has no gradient`);
  if (audit.error) problems.push(`${label}: the step failed: ${audit.error.message.split('\n')[0]}`);
  return problems;
}
