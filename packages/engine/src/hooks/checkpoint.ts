/**
 * Periodic checkpoints (detectron2 PeriodicCheckpointer): `model_{iter:07d}` every `period`
 * iterations and `model_final` at the end. The trainer state holds everything an exact resume needs.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Checkpointer } from '../checkpoint';
import type { Hook, Trainer } from '../trainer';

export interface ResumableState {
  /** Extra state saved with every checkpoint (RNG streams, ...) and handed back on resume. */
  get(): Record<string, unknown>;
}

export function trainerCheckpointData(t: Trainer, extra: Record<string, unknown>) {
  return {
    model: t.model.stateDict() as Map<string, tf.Tensor>,
    ema: t.ema?.stateDict(),
    optimizer: t.optimizer.stateTensors(),
    state: {
      iter: t.iter,
      max_iter: t.maxIter,
      optimizer_steps: t.optimizer.stepCount,
      loader: t.loader.getState(),
      ...extra,
    },
  };
}

export function checkpointName(iter: number): string {
  return `model_${String(iter - 1).padStart(7, '0')}`;
}

export class CheckpointHook implements Hook {
  lastSaved: string | null = null;

  constructor(
    private readonly checkpointer: Checkpointer,
    private readonly period: number,
    private readonly extraState: ResumableState,
    private readonly log: (line: string) => void = console.log,
  ) {}

  save(t: Trainer, name: string): string {
    const path = this.checkpointer.save(name, trainerCheckpointData(t, this.extraState.get()));
    this.lastSaved = path;
    return path;
  }

  afterStep(t: Trainer): void {
    if (this.period > 0 && t.iter % this.period === 0 && t.iter !== t.maxIter) this.save(t, checkpointName(t.iter));
  }

  afterTrain(t: Trainer, error?: Error): void {
    if (!error) {
      this.log(`[checkpoint] saved ${this.save(t, 'model_final')}`);
    } else if (this.lastSaved) {
      this.log(`[checkpoint] training stopped; the last good checkpoint is ${this.lastSaved}`);
    } else {
      this.log('[checkpoint] training stopped before any checkpoint was written');
    }
  }
}
