/**
 * Model EMA (detrex `detrex/modeling/ema.py`): after every step, ema = decay * ema + (1 - decay) * p
 * over the whole state dict (parameters and buffers). Evaluation can run with the EMA weights swapped in.
 */
import * as tf from '@tensorflow/tfjs';
import type { Module } from '@detr/core';

export class ModelEMA {
  private readonly shadow = new Map<string, tf.Variable>();

  constructor(private readonly model: Module, readonly decay = 0.999) {
    if (!(decay > 0 && decay < 1)) throw new Error(`EMA decay must be in (0, 1), got ${decay}`);
    for (const [name, t] of model.stateDict()) {
      if (t.dtype === 'float32') this.shadow.set(name, tf.tidy(() => tf.variable(t.clone(), false)));
    }
  }

  update(): void {
    const sd = this.model.stateDict();
    tf.tidy(() => {
      for (const [name, s] of this.shadow) {
        const p = sd.get(name)!;
        s.assign(s.mul(this.decay).add(p.mul(1 - this.decay)));
      }
    });
  }

  /** EMA tensors by state-dict name (for checkpoints). */
  stateDict(): Map<string, tf.Tensor> {
    return new Map(this.shadow);
  }

  load(tensors: Map<string, tf.Tensor>): void {
    for (const [name, s] of this.shadow) {
      const t = tensors.get(name);
      if (!t) throw new Error(`EMA state missing "${name}"`);
      s.assign(t);
    }
  }

  /** Run `fn` with the EMA weights in the model, then restore the live weights. */
  withEmaWeights<T>(fn: () => T): T {
    const live = new Map<string, tf.Tensor>();
    for (const [name, t] of this.model.stateDict()) if (this.shadow.has(name)) live.set(name, t.clone());
    this.model.loadStateDict(this.shadow, { strict: false });
    try {
      return fn();
    } finally {
      this.model.loadStateDict(live, { strict: false });
      for (const t of live.values()) t.dispose();
    }
  }

  dispose(): void {
    for (const s of this.shadow.values()) s.dispose();
    this.shadow.clear();
  }
}
