/**
 * H-Deformable-DETR R50 two-stage, 12 epochs (detrex
 * `projects/h_deformable_detr/configs/h_deformable_detr_r50_two_stage_12ep.py`, which takes train /
 * dataloader / optimizer from `h_deformable_detr_r50_50ep.py`): with_box_refine and as_two_stage on,
 * AdamW lr 1e-4 (backbone x0.1), betas (0.9, 0.999), weight decay 1e-4, gradient clipping 0.1, total
 * batch 16, 90k iterations, lr x0.1 at 11/12.
 * COCO val AP: 48.7 (official H-Deformable-DETR + tricks, 12 epochs), 48.9 (detrex's converted model),
 * 49.1 (detrex's own training with its modified train_net.py: lr 2e-4, backbone and
 * sampling_offsets / reference_points 2e-5).
 */
import { backboneLrFactor } from '@detr/engine';
import { cloneConfig } from '@detr/registry';
import { lr_multiplier_12ep } from '../../../configs/common/coco_schedule';
import { dataloader as cocoData } from '../../../configs/common/data/coco_detr';
import { AdamWConfig } from '../../../configs/common/optim';
import { train as commonTrain } from '../../../configs/common/train';
import { model as hdetrModel } from './models/h_deformable_detr_r50';

export const model = cloneConfig(hdetrModel);
Object.assign(model, { with_box_refine: true, as_two_stage: true });

export const dataloader = cloneConfig(cocoData);
export const lr_multiplier = cloneConfig(lr_multiplier_12ep);

export const optimizer = cloneConfig(AdamWConfig);
optimizer.lr = 1e-4;
optimizer.betas = [0.9, 0.999];
optimizer.weight_decay = 1e-4;
(optimizer.params as Record<string, unknown>).lr_factor_func = backboneLrFactor(0.1);

export const train = {
  ...cloneConfig(commonTrain),
  /** ImageNet R-50. detrex: "detectron2://ImageNetPretrained/torchvision/R-50.pkl". */
  init_checkpoint: '',
  output_dir: './output/h_deformable_detr_r50_two_stage_12ep',
  max_iter: 90000,
  eval_period: 5000,
  log_period: 20,
  checkpointer: { period: 5000, max_to_keep: 3 },
  clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } },
  /** detrex's total batch 16 as 2 images per step x 8 accumulated steps. */
  grad_accum_steps: 8,
};
