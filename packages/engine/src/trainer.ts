/**
 * The iteration-based training loop (detectron2's SimpleTrainer + hooks, as detrex's
 * `tools/train_net.py` uses it): per iteration set the lr from the schedule, run forward, sum the
 * (already weighted) loss dict, backward, clip the global gradient norm, step AdamW, update the EMA,
 * then run the hooks (logging, checkpoints, evaluation). Gradient accumulation averages the gradients
 * of several batches into one update. A non-finite loss stops training naming the loss, before the
 * update is applied.
 */
import * as tf from '@tensorflow/tfjs';
import type { AdamW } from './optim/adamw';
import type { ParamScheduler } from './optim/lr_schedule';
import { clipGradNorm } from './optim/clip_grad';
import type { ModelEMA } from './ema';
import { disposeBatch, type TrainableDetector, type TrainLoader } from './types';

export interface StepResult {
  /** Iteration just completed (0-based). */
  iter: number;
  /** Weighted losses of this step (averaged over accumulated batches). */
  losses: Record<string, number>;
  totalLoss: number;
  lr: number;
  gradNorm: number;
  /** Seconds spent in the step, and in loading data. */
  stepTime: number;
  dataTime: number;
}

export interface Hook {
  beforeTrain?(trainer: Trainer): void | Promise<void>;
  afterStep?(trainer: Trainer, step: StepResult): void | Promise<void>;
  /** `error` is set when training stopped because of it. */
  afterTrain?(trainer: Trainer, error?: Error): void | Promise<void>;
}

export class NonFiniteLossError extends Error {
  constructor(readonly lossName: string, readonly value: number, readonly iter: number) {
    super(`${lossName} is ${value} at iteration ${iter}: training stopped before applying this update`);
    this.name = 'NonFiniteLossError';
  }
}

export interface TrainerOptions {
  model: TrainableDetector;
  optimizer: AdamW;
  loader: TrainLoader;
  scheduler: ParamScheduler;
  max_iter: number;
  clip_grad?: { enabled: boolean; max_norm: number; norm_type?: number };
  grad_accum_steps?: number;
  ema?: ModelEMA | null;
  hooks?: Hook[];
  /** Called after each step with the backend in use (e.g. the wasm memory guard). */
  memoryCheck?: (context: string) => void;
}

export class Trainer {
  readonly model: TrainableDetector;
  readonly optimizer: AdamW;
  readonly loader: TrainLoader;
  readonly scheduler: ParamScheduler;
  readonly maxIter: number;
  readonly hooks: Hook[];
  readonly ema: ModelEMA | null;
  /** The next iteration to run (= iterations done so far). */
  iter = 0;
  startIter = 0;
  private readonly accum: number;
  private readonly opts: TrainerOptions;

  constructor(opts: TrainerOptions) {
    if (!(opts.max_iter > 0)) throw new Error(`train.max_iter must be > 0, got ${opts.max_iter}`);
    this.opts = opts;
    this.model = opts.model;
    this.optimizer = opts.optimizer;
    this.loader = opts.loader;
    this.scheduler = opts.scheduler;
    this.maxIter = opts.max_iter;
    this.hooks = opts.hooks ?? [];
    this.ema = opts.ema ?? null;
    this.accum = opts.grad_accum_steps ?? 1;
    if (!(Number.isInteger(this.accum) && this.accum >= 1)) throw new Error(`train.grad_accum_steps must be an integer >= 1, got ${this.accum}`);
  }

  /** Multiplier-scaled lr of every group for iteration `iter` (d2 LRMultiplier: base * m(iter / max_iter)). */
  setLr(iter: number): number {
    const m = this.scheduler.at(iter / this.maxIter);
    for (const g of this.optimizer.groups) g.lr = g.initial_lr * m;
    return Math.max(...this.optimizer.groups.map((g) => g.lr));
  }

  async train(): Promise<void> {
    this.startIter = this.iter;
    this.model.train();
    for (const h of this.hooks) await h.beforeTrain?.(this);
    let error: Error | undefined;
    try {
      while (this.iter < this.maxIter) {
        const result = this.runStep();
        this.iter += 1;
        for (const h of this.hooks) await h.afterStep?.(this, result);
      }
    } catch (e) {
      error = e as Error;
    }
    for (const h of this.hooks) {
      try {
        await h.afterTrain?.(this, error);
      } catch (e) {
        error ??= e as Error;
      }
    }
    if (error) throw error;
  }

  /** One optimizer update (over grad_accum_steps batches). */
  runStep(): StepResult {
    const start = performance.now();
    const iter = this.iter;
    const lr = this.setLr(iter);
    const vars = this.model.trainableVariables().map((v) => v.variable);
    let dataTime = 0;
    let grads: Record<string, tf.Tensor> = {};
    const lossSums: Record<string, number> = {};
    let gradNorm = NaN;
    try {
      for (let micro = 0; micro < this.accum; micro++) {
        const t0 = performance.now();
        const batch = this.loader.next();
        dataTime += (performance.now() - t0) / 1000;
        let lossNames: string[] = [];
        let lossVector: tf.Tensor | null = null;
        let stepGrads: Record<string, tf.Tensor>;
        try {
          const out = tf.variableGrads(() => {
            const lossDict = this.model.forwardTrain(batch);
            lossNames = Object.keys(lossDict);
            if (lossNames.length === 0) throw new Error('the model returned no losses in training mode');
            const terms = lossNames.map((k) => lossDict[k]);
            lossVector = tf.keep(tf.stack(terms));
            const total = tf.addN(terms);
            return (this.accum > 1 ? total.div(this.accum) : total) as tf.Scalar;
          }, vars);
          out.value.dispose();
          stepGrads = out.grads;
        } finally {
          disposeBatch(batch);
        }
        const values = (lossVector as unknown as tf.Tensor).dataSync();
        (lossVector as unknown as tf.Tensor).dispose();
        const bad = lossNames.findIndex((_, i) => !Number.isFinite(values[i]));
        if (bad >= 0) {
          for (const g of Object.values(stepGrads)) g.dispose();
          throw new NonFiniteLossError(lossNames[bad], values[bad], iter);
        }
        lossNames.forEach((k, i) => (lossSums[k] = (lossSums[k] ?? 0) + values[i] / this.accum));
        grads = accumulate(grads, stepGrads);
      }
      if (this.opts.clip_grad?.enabled) {
        const clipped = clipGradNorm(grads, this.opts.clip_grad.max_norm, this.opts.clip_grad.norm_type ?? 2);
        grads = clipped.grads;
        gradNorm = clipped.totalNorm;
        if (!Number.isFinite(gradNorm)) throw new NonFiniteLossError('gradient norm', gradNorm, iter);
      }
      this.optimizer.step(grads);
    } finally {
      for (const g of Object.values(grads)) g.dispose();
    }
    this.ema?.update();
    this.opts.memoryCheck?.(`after training iteration ${iter}`);
    const totalLoss = Object.values(lossSums).reduce((a, b) => a + b, 0);
    return { iter, losses: lossSums, totalLoss, lr, gradNorm, stepTime: (performance.now() - start) / 1000, dataTime };
  }
}

/** acc + g for every key; disposes the inputs that are consumed. */
function accumulate(acc: Record<string, tf.Tensor>, g: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  if (Object.keys(acc).length === 0) return g;
  for (const [k, v] of Object.entries(g)) {
    if (acc[k]) {
      const sum = tf.add(acc[k], v);
      acc[k].dispose();
      v.dispose();
      acc[k] = sum;
    } else {
      acc[k] = v;
    }
  }
  return acc;
}
