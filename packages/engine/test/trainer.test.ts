import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedEverything } from '@detr/core';
import {
  AdamW,
  Checkpointer,
  CheckpointHook,
  cocoScheduler,
  disposeCheckpoint,
  getDefaultOptimizerParams,
  ModelEMA,
  NonFiniteLossError,
  Trainer,
  type Hook,
  type StepResult,
} from '../src/index';
import { SyntheticLoader, ToyDetector } from './helpers/toy';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function build(seed: number, opts: { ema?: boolean; accum?: number } = {}) {
  seedEverything(seed);
  const model = new ToyDetector();
  const optimizer = new AdamW({ params: getDefaultOptimizerParams({ model, base_lr: 1e-2, weight_decay: 1e-4, weight_decay_norm: 0 }) });
  const loader = new SyntheticLoader(seed + 100);
  return { model, optimizer, loader, ema: opts.ema ? new ModelEMA(model, 0.9) : null, accum: opts.accum ?? 1 };
}

class Record implements Hook {
  steps: StepResult[] = [];
  afterStep(_t: Trainer, r: StepResult) {
    this.steps.push(r);
  }
}

function makeTrainer(parts: ReturnType<typeof build>, maxIter: number, hooks: Hook[]) {
  return new Trainer({
    model: parts.model,
    optimizer: parts.optimizer,
    loader: parts.loader,
    scheduler: cocoScheduler({ epochs: 12, decay_epochs: 8 }),
    max_iter: maxIter,
    clip_grad: { enabled: true, max_norm: 0.1 },
    grad_accum_steps: parts.accum,
    ema: parts.ema,
    hooks,
  });
}

describe('Trainer', () => {
  it('losses fall on a learnable stream and lr follows the schedule', async () => {
    const parts = build(0);
    const rec = new Record();
    await makeTrainer(parts, 60, [rec]).train();
    const first = rec.steps.slice(0, 10).reduce((a, s) => a + s.totalLoss, 0);
    const last = rec.steps.slice(-10).reduce((a, s) => a + s.totalLoss, 0);
    expect(last).toBeLessThan(first);
    expect(rec.steps[0].lr).toBeCloseTo(1e-2);
    expect(rec.steps[59].lr).toBeCloseTo(1e-3); // after 8/12 of training
    expect(rec.steps.every((s) => s.gradNorm > 0)).toBe(true);
  });

  it('keeps the tensor count flat across 50 training steps', async () => {
    const parts = build(1, { ema: true, accum: 2 });
    const counts: number[] = [];
    await makeTrainer(parts, 50, [{ afterStep: () => void counts.push(tf.memory().numTensors) }]).train();
    expect(counts).toHaveLength(50);
    expect(counts[49]).toBe(counts[4]);
    expect(new Set(counts.slice(4)).size).toBe(1);
  });

  it('resume continues the exact same run (same loss sequence as uninterrupted)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'detr-resume-'));
    const full = build(7, { ema: true });
    const recFull = new Record();
    await makeTrainer(full, 12, [recFull]).train();

    const a = build(7, { ema: true });
    const recA = new Record();
    const ck = new Checkpointer(dir);
    const ckHook = new CheckpointHook(ck, 6, { get: () => ({}) }, () => {});
    const trainerA = makeTrainer(a, 12, [recA, ckHook, { afterStep: (t) => { if (t.iter === 6) throw new Error('simulated crash'); } }]);
    await expect(trainerA.train()).rejects.toThrow('simulated crash');
    expect(ck.latest()).toBe('model_0000005');

    const b = build(99, { ema: true }); // different init and data seed: everything must come from the checkpoint
    const data = ck.load(ck.latest()!);
    b.model.loadStateDict(data.model);
    b.optimizer.loadStateTensors(data.optimizer!, data.state.optimizer_steps as number);
    b.ema!.load(data.ema!);
    b.loader.setState(data.state.loader);
    disposeCheckpoint(data);
    const recB = new Record();
    const trainerB = makeTrainer(b, 12, [recB]);
    trainerB.iter = 6;
    await trainerB.train();
    const seq = [...recA.steps.slice(0, 6), ...recB.steps].map((s) => s.losses);
    expect(seq).toEqual(recFull.steps.map((s) => s.losses));
  });

  it('stops on a NaN loss without applying the update, and keeps the last good checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'detr-nan-'));
    const parts = build(3);
    parts.model.nanAtCall = 7;
    const ck = new Checkpointer(dir);
    const logs: string[] = [];
    const hook = new CheckpointHook(ck, 5, { get: () => ({}) }, (l) => logs.push(l));
    let lastGood: ArrayLike<number> | null = null;
    const snapshot: Hook = { afterStep: () => void (lastGood = parts.model.head.weight.dataSync().slice()) };
    await expect(makeTrainer(parts, 20, [hook, snapshot]).train()).rejects.toThrow(NonFiniteLossError);
    // The weights are those after the last good step (6): the NaN step's update was not applied.
    expect(Array.from(parts.model.head.weight.dataSync())).toEqual(Array.from(lastGood!));
    expect(logs.join('\n')).toMatch(/last good checkpoint is .*model_0000004\.safetensors/);
    expect(ck.latest()).toBe('model_0000004');
  });

  it('names the loss and the iteration in the error', async () => {
    const parts = build(4);
    parts.model.nanAtCall = 2;
    const err = (await makeTrainer(parts, 5, []).train().catch((e) => e)) as NonFiniteLossError;
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect(err.lossName).toBe('loss_bbox');
    expect(err.iter).toBe(2);
    expect(err.message).toMatch(/loss_bbox is NaN at iteration 2/);
  });
});

describe('Checkpointer', () => {
  it('a checkpoint written while the process is killed never replaces the last good one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'detr-kill-'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'helpers', 'checkpoint_writer.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let saved = 0;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        saved += (d.toString().match(/saved/g) ?? []).length;
        // Kill in the middle of a later write (each write takes tens of ms).
        if (saved >= 3) setTimeout(() => child.kill('SIGKILL'), 7);
      });
      child.on('exit', () => resolve());
    });
    const ck = new Checkpointer(dir, 2);
    const name = ck.latest();
    expect(name).not.toBeNull();
    const data = ck.load(name!);
    const iter = data.state.iter as number;
    const w = data.model.get('w')!.dataSync();
    expect(w.length).toBe(4_000_000);
    expect(w[0]).toBe(iter);
    expect(w[w.length - 1]).toBe(iter);
    expect(iter).toBeGreaterThanOrEqual(3);
    disposeCheckpoint(data);
    // Leftover temp files from the killed write are not mistaken for checkpoints.
    expect(readdirSync(dir).filter((f) => /^model_\d+\.safetensors$/.test(f)).length).toBeLessThanOrEqual(3);
  });
});
