/**
 * LR multipliers of detrex `configs/common/coco_schedule.py`, from one helper. They are defined on
 * fractions of train.max_iter, so they stay right when max_iter changes (detrex issue #214);
 * train.max_iter itself must be set (90000 for 12 epochs of COCO at batch 16).
 */
import { L } from '@detr/registry';
import { cocoScheduler } from '@detr/engine';

export function defaultCocoScheduler(epochs: number, decay_epochs: number, warmup_epochs = 0) {
  return L(cocoScheduler)({ epochs, decay_epochs, warmup_epochs, warmup_factor: 0.001 });
}

/** Iterations of one COCO epoch at total batch 16 (about 118k images). */
export const COCO_ITERS_PER_EPOCH = 7500;

export const lr_multiplier_12ep = defaultCocoScheduler(12, 11, 0);
export const lr_multiplier_24ep = defaultCocoScheduler(24, 20, 0);
export const lr_multiplier_36ep = defaultCocoScheduler(36, 30, 0);
export const lr_multiplier_50ep = defaultCocoScheduler(50, 40, 0);
export const lr_multiplier_12ep_warmup = defaultCocoScheduler(12, 11, 1e-3);
export const lr_multiplier_24ep_warmup = defaultCocoScheduler(24, 20, 1e-3);
export const lr_multiplier_36ep_warmup = defaultCocoScheduler(36, 30, 1e-3);
export const lr_multiplier_50ep_warmup = defaultCocoScheduler(50, 40, 1e-3);
