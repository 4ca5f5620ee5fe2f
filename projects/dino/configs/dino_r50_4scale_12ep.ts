/**
 * DINO R50 4-scale, 12 epochs on COCO 2017 (detrex `projects/dino/configs/dino-resnet/dino_r50_4scale_12ep.py`):
 * AdamW lr 1e-4 (backbone x0.1), weight decay 1e-4, clip 0.1, total batch 16, 90k iterations, lr x0.1 at 11/12.
 * Paper/detrex: 49.2 AP.
 */
import { backboneLrFactor } from '@detr/engine';
import { cloneConfig } from '@detr/registry';
import { lr_multiplier_12ep } from '../../../configs/common/coco_schedule';
import { dataloader as cocoData } from '../../../configs/common/data/coco_detr';
import { AdamWConfig } from '../../../configs/common/optim';
import { train as commonTrain } from '../../../configs/common/train';
import { model as dinoModel } from './models/dino_r50';

export const model = cloneConfig(dinoModel);
export const dataloader = cloneConfig(cocoData);
export const lr_multiplier = cloneConfig(lr_multiplier_12ep);

export const optimizer = cloneConfig(AdamWConfig);
optimizer.lr = 1e-4;
optimizer.weight_decay = 1e-4;
(optimizer.params as Record<string, unknown>).lr_factor_func = backboneLrFactor(0.1);

export const train = {
  ...cloneConfig(commonTrain),
  /** ImageNet R-50 weights: a torchvision resnet50 .pth (or detectron2's R-50 converted to .pth / safetensors). */
  init_checkpoint: '',
  output_dir: './output/dino_r50_4scale_12ep',
  max_iter: 90000,
  eval_period: 5000,
  checkpointer: { period: 5000, max_to_keep: 3 },
  /** detrex's total batch 16 as 2 images per step x 8 accumulated steps. */
  grad_accum_steps: 8,
};
