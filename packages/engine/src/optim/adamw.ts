/**
 * AdamW (torch.optim.AdamW, decoupled weight decay; Loshchilov & Hutter) over parameter groups, with
 * its moments kept as tf.Variables so they can be checkpointed and restored for an exact resume.
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *   p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import type { ParamGroup } from './param_groups';

export interface AdamWOptions {
  params: ParamGroup[];
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weight_decay?: number;
}

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

@register('optimizer', 'adamw')
export class AdamW {
  readonly groups: ParamGroup[];
  readonly betas: [number, number];
  readonly eps: number;
  /** Number of steps taken (PyTorch keeps it per parameter; all parameters step together here). */
  stepCount = 0;
  private readonly moments = new Map<tf.Variable, Moments>();

  constructor(opts: AdamWOptions) {
    if (!opts.params?.length) throw new Error('AdamW: no parameter groups (is every parameter frozen?)');
    this.groups = opts.params;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const g of this.groups) {
      for (const { variable } of g.params) {
        // Created inside tidy so the zero tensors the variables copy are disposed (tf.variable keeps its input alive).
        this.moments.set(
          variable,
          tf.tidy(() => ({ m: tf.variable(tf.zerosLike(variable), false), v: tf.variable(tf.zerosLike(variable), false) })) as Moments,
        );
      }
    }
  }

  /** Apply one update from gradients keyed by variable name (tf.variableGrads' output). */
  step(grads: Record<string, tf.Tensor>): void {
    this.stepCount += 1;
    const [b1, b2] = this.betas;
    const bc1 = 1 - Math.pow(b1, this.stepCount);
    const bc2 = 1 - Math.pow(b2, this.stepCount);
    for (const g of this.groups) {
      const stepSize = g.lr / bc1;
      for (const { variable } of g.params) {
        const grad = grads[variable.name];
        if (!grad) continue; // a parameter without gradient this step (unused branch): PyTorch skips it too
        const mom = this.moments.get(variable)!;
        tf.tidy(() => {
          const m = mom.m.mul(b1).add(grad.mul(1 - b1));
          const v = mom.v.mul(b2).add(grad.square().mul(1 - b2));
          mom.m.assign(m);
          mom.v.assign(v);
          const denom = v.div(bc2).sqrt().add(this.eps);
          const decayed = g.weight_decay !== 0 ? variable.mul(1 - g.lr * g.weight_decay) : variable;
          variable.assign(decayed.sub(m.div(denom).mul(stepSize)));
        });
      }
    }
  }

  /** Moments by parameter name for checkpoints: `exp_avg.<name>`, `exp_avg_sq.<name>`. */
  stateTensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const g of this.groups) {
      for (const { name, variable } of g.params) {
        const mom = this.moments.get(variable)!;
        out.set(`exp_avg.${name}`, mom.m);
        out.set(`exp_avg_sq.${name}`, mom.v);
      }
    }
    return out;
  }

  loadStateTensors(tensors: Map<string, tf.Tensor>, stepCount: number): void {
    const missing: string[] = [];
    for (const g of this.groups) {
      for (const { name, variable } of g.params) {
        const mom = this.moments.get(variable)!;
        const m = tensors.get(`exp_avg.${name}`);
        const v = tensors.get(`exp_avg_sq.${name}`);
        if (!m || !v) {
          missing.push(name);
          continue;
        }
        mom.m.assign(m);
        mom.v.assign(v);
      }
    }
    if (missing.length) throw new Error(`AdamW: optimizer state missing for ${missing.length} parameters (${missing.slice(0, 5).join(', ')}...)`);
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
  }
}
