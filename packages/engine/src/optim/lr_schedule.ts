/**
 * LR multipliers with fvcore's semantics (`fvcore/common/param_scheduler.py`), evaluated at
 * `where = iter / max_iter` in [0, 1), and detectron2's LRMultiplier: lr = base_lr * multiplier(where).
 */
import { register } from '@detr/registry';

export interface ParamScheduler {
  /** The multiplier at training progress `where` in [0, 1]. */
  at(where: number): number;
}

const WHERE_EPSILON = 1e-6;

function bisectRight(xs: readonly number[], v: number): number {
  let lo = 0, hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v < xs[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * MultiStepParamScheduler: values[i] between milestones. As in fvcore, with `num_updates` unset the
 * last milestone is the total number of updates, and only the earlier milestones are steps.
 */
@register('lr_scheduler', 'multistep')
export class MultiStepParamScheduler implements ParamScheduler {
  readonly values: number[];
  readonly milestones: number[];
  readonly numUpdates: number;

  constructor(opts: { values: number[]; milestones?: number[]; num_updates?: number }) {
    const { values } = opts;
    let milestones = opts.milestones;
    let numUpdates = opts.num_updates;
    if (!values?.length) throw new Error('MultiStepParamScheduler: values must be a non-empty list');
    if (milestones === undefined) {
      if (numUpdates === undefined) throw new Error('MultiStepParamScheduler: give milestones or num_updates');
      const width = Math.ceil(numUpdates / values.length);
      milestones = values.slice(1).map((_, i) => width * (i + 1));
    } else if (milestones.length !== values.length - (numUpdates !== undefined ? 1 : 0)) {
      throw new Error(
        `MultiStepParamScheduler: ${milestones.length} milestones for ${values.length} values (need ${values.length - (numUpdates !== undefined ? 1 : 0)})`,
      );
    }
    if (numUpdates === undefined) {
      numUpdates = milestones[milestones.length - 1];
      milestones = milestones.slice(0, -1);
    }
    // fvcore's checks: milestones ascending, positive, and below the number of updates.
    let previous = 0;
    for (const m of milestones) {
      if (m >= numUpdates) throw new Error(`MultiStepParamScheduler: milestone ${m} must be smaller than the number of updates ${numUpdates}`);
      if (previous >= m) throw new Error(`MultiStepParamScheduler: milestones must be positive and increasing, got [${milestones}]`);
      previous = m;
    }
    this.values = values;
    this.milestones = milestones;
    this.numUpdates = numUpdates;
  }

  at(where: number): number {
    const epochNum = Math.floor((where + WHERE_EPSILON) * this.numUpdates);
    return this.values[bisectRight(this.milestones, epochNum)];
  }
}

@register('lr_scheduler', 'cosine')
export class CosineParamScheduler implements ParamScheduler {
  constructor(readonly opts: { start_value: number; end_value: number }) {}
  at(where: number): number {
    const { start_value: s, end_value: e } = this.opts;
    return e + 0.5 * (s - e) * (1 + Math.cos(Math.PI * where));
  }
}

@register('lr_scheduler', 'linear')
export class LinearParamScheduler implements ParamScheduler {
  constructor(readonly opts: { start_value: number; end_value: number }) {}
  at(where: number): number {
    return this.opts.start_value + (this.opts.end_value - this.opts.start_value) * where;
  }
}

/**
 * WarmupParamScheduler (fvcore): over the first `warmup_length` fraction, ramps linearly (or holds
 * constant) from warmup_factor * scheduler(0) to scheduler(warmup_length); then the wrapped scheduler
 * at the same `where` (interval scaling "fixed", the default).
 */
@register('lr_scheduler', 'warmup')
export class WarmupParamScheduler implements ParamScheduler {
  constructor(
    readonly opts: { scheduler: ParamScheduler; warmup_factor: number; warmup_length: number; warmup_method?: 'linear' | 'constant' },
  ) {
    if (!(opts.warmup_length >= 0 && opts.warmup_length < 1)) throw new Error(`WarmupParamScheduler: warmup_length must be in [0, 1), got ${opts.warmup_length}`);
  }

  at(where: number): number {
    const { scheduler, warmup_factor, warmup_length, warmup_method = 'linear' } = this.opts;
    if (warmup_length > 0 && where < warmup_length) {
      const start = warmup_factor * scheduler.at(0);
      if (warmup_method === 'constant') return start;
      const end = scheduler.at(warmup_length);
      return start + (end - start) * (where / warmup_length);
    }
    return scheduler.at(where);
  }
}

/** A constant multiplier (no schedule). */
@register('lr_scheduler', 'constant')
export class ConstantParamScheduler implements ParamScheduler {
  constructor(readonly opts: { value?: number } = {}) {}
  at(): number {
    return this.opts.value ?? 1;
  }
}

/**
 * detrex `configs/common/coco_schedule.py::default_coco_scheduler`, expressed on fractions of max_iter
 * so it stays right whatever max_iter is (detrex issue #214): drop to 0.1 at decay_epochs / epochs of
 * training, optional warmup of warmup_epochs / epochs.
 */
export function cocoScheduler(opts: { epochs: number; decay_epochs: number; warmup_epochs?: number; warmup_factor?: number }): ParamScheduler {
  const total = 1_000_000;
  const multistep = new MultiStepParamScheduler({
    values: [1.0, 0.1],
    milestones: [Math.round((opts.decay_epochs / opts.epochs) * total), total],
  });
  const warmup = (opts.warmup_epochs ?? 0) / opts.epochs;
  return new WarmupParamScheduler({ scheduler: multistep, warmup_factor: opts.warmup_factor ?? 0.001, warmup_length: warmup });
}
// A factory part: configs write L('lr_scheduler/coco')({ epochs: 12, decay_epochs: 11 }).
register('lr_scheduler', 'coco')(cocoScheduler);
