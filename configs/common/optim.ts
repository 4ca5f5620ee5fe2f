/**
 * Optimizers (detrex `configs/common/optim.py`): AdamW over detectron2's default parameter groups
 * (no weight decay on norm layers, lr factors by parameter name). `params.model` is filled in at run time.
 */
import { L } from '@detr/registry';
import { AdamW, getDefaultOptimizerParams } from '@detr/engine';

export const AdamWConfig = L(AdamW)({
  params: L(getDefaultOptimizerParams)({
    base_lr: '${..lr}',
    weight_decay: '${..weight_decay}',
    weight_decay_norm: 0.0,
  }),
  lr: 1e-4,
  betas: [0.9, 0.999],
  weight_decay: 0.1,
  eps: 1e-8,
});
