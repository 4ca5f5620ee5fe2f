/**
 * Optimizer parameter groups as detectron2's `get_default_optimizer_params`
 * (`detectron2/solver/build.py`): one group per parameter with lr = base_lr * lr_factor_func(name) and
 * weight decay 0 for the parameters of normalisation layers, then groups with equal hyper-parameters
 * are merged.
 */
import type * as tf from '@tensorflow/tfjs';
import { FrozenBatchNorm2d, GroupNorm, LayerNorm, type Module } from '@detr/core';

export interface ParamGroup {
  /** Variables with their state-dict names (names used for checkpoints of optimizer state). */
  params: { name: string; variable: tf.Variable }[];
  lr: number;
  weight_decay: number;
  /** The lr before scheduling (lr = base_lr_group * multiplier). */
  initial_lr: number;
}

export interface DefaultParamGroupOptions {
  model: Module;
  base_lr: number;
  weight_decay: number;
  /** detrex sets weight_decay_norm: 0.0 (configs/common/optim.py). */
  weight_decay_norm?: number;
  /** Multiplier of base_lr by parameter name, e.g. 0.1 for names containing "backbone". */
  lr_factor_func?: (name: string) => number;
  /** Extra name-pattern overrides, applied after lr_factor_func (e.g. H-DETR's "sampling_offsets": 0.1). */
  overrides?: Record<string, { lr_factor?: number; weight_decay?: number }>;
}

const NORM_TYPES = [LayerNorm, GroupNorm, FrozenBatchNorm2d];

export function isNormModule(m: Module): boolean {
  if (NORM_TYPES.some((T) => m instanceof T)) return true;
  // Norm layers defined elsewhere follow the convention of a class name ending in "Norm" / "Norm2d".
  return /Norm(\d+d)?$/.test(m.constructor.name);
}

/** Parameter groups for an optimizer, merged by equal (lr, weight_decay). */
export function getDefaultOptimizerParams(opts: DefaultParamGroupOptions): ParamGroup[] {
  const wdNorm = opts.weight_decay_norm ?? opts.weight_decay;
  const factor = opts.lr_factor_func ?? (() => 1);
  const normParams = new Set<tf.Variable>();
  for (const [, m] of opts.model.namedModules()) {
    if (!isNormModule(m)) continue;
    for (const [, p] of m.namedParameters()) normParams.add(p.variable);
  }
  const groups = new Map<string, ParamGroup>();
  for (const { name, variable } of opts.model.trainableVariables()) {
    let lr = opts.base_lr * factor(name);
    let wd = normParams.has(variable) ? wdNorm : opts.weight_decay;
    for (const [pattern, o] of Object.entries(opts.overrides ?? {})) {
      if (!name.includes(pattern)) continue;
      if (o.lr_factor !== undefined) lr = opts.base_lr * o.lr_factor;
      if (o.weight_decay !== undefined) wd = o.weight_decay;
    }
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`optimizer: lr for ${name} is ${lr}; check lr_factor_func`);
    const key = `${lr}|${wd}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { params: [], lr, weight_decay: wd, initial_lr: lr }));
    g.params.push({ name, variable });
  }
  return [...groups.values()];
}

/** detrex's R50 configs: `lambda n: 0.1 if "backbone" in n else 1`. */
export function backboneLrFactor(factor = 0.1): (name: string) => number {
  return (name) => (name.includes('backbone') ? factor : 1);
}
