/**
 * Metrics as JSON lines (`metrics.jsonl` in the output folder, like detectron2's metrics.json): one
 * line per `log_period` iterations with the mean of each loss over the period, lr, gradient norm,
 * timing and the live tfjs tensor count (flat in a run without leaks); evaluation lines are appended by the evaluation hook through `MetricsLog.write`.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Hook, StepResult, Trainer } from '../trainer';

export type MetricsRecord = Record<string, unknown> & { iter: number; type: 'train' | 'eval' };

export class MetricsLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(record: MetricsRecord): void {
    appendFileSync(this.path, JSON.stringify(record) + '\n');
  }

  /** Every record (skipping a torn last line), optionally only those before `beforeIter` (for resume). */
  read(beforeIter = Infinity): MetricsRecord[] {
    if (!existsSync(this.path)) return [];
    const out: MetricsRecord[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as MetricsRecord;
        if (r.iter <= beforeIter) out.push(r);
      } catch {
        // a line cut by a killed process
      }
    }
    return out;
  }
}

export class MetricsHook implements Hook {
  private window: StepResult[] = [];

  constructor(private readonly log: MetricsLog, private readonly period = 20) {}

  afterStep(t: Trainer, r: StepResult): void {
    this.window.push(r);
    if (t.iter % this.period !== 0 && t.iter !== t.maxIter) return;
    const n = this.window.length;
    const losses: Record<string, number> = {};
    for (const s of this.window) for (const [k, v] of Object.entries(s.losses)) losses[k] = (losses[k] ?? 0) + v / n;
    const mean = (f: (s: StepResult) => number) => this.window.reduce((a, s) => a + f(s), 0) / n;
    this.log.write({
      type: 'train',
      iter: t.iter,
      total_loss: mean((s) => s.totalLoss),
      ...losses,
      lr: r.lr,
      grad_norm: mean((s) => s.gradNorm),
      time: mean((s) => s.stepTime),
      data_time: mean((s) => s.dataTime),
      num_tensors: tf.memory().numTensors,
    });
    this.window = [];
  }
}
