/**
 * Anchor DETR R50-C5, 50 epochs on COCO 2017 (detrex `projects/anchor_detr/configs/anchor_detr_r50_50ep.py`):
 * AdamW lr 1e-4 (backbone x0.1, i.e. the official `--lr_backbone 1e-5`), betas (0.9, 0.999), weight decay
 * 1e-4, gradient clipping 0.1, total batch 16, 375k iterations, lr x0.1 at 40/50 (official
 * `--epochs 50 --lr_drop 40`). The official repository trained with 8 GPUs x 1 image (total batch 8).
 * COCO val AP: 42.1 (official AnchorDETR-C5 R50), 41.9 (detrex's trained model), 42.2 (detrex's
 * converted official model).
 */
import { backboneLrFactor } from '@detr/engine';
import { cloneConfig } from '@detr/registry';
import { lr_multiplier_50ep } from '../../../configs/common/coco_schedule';
import { dataloader as cocoData } from '../../../configs/common/data/coco_detr';
import { AdamWConfig } from '../../../configs/common/optim';
import { train as commonTrain } from '../../../configs/common/train';
import { model as anchorModel } from './models/anchor_detr_r50';

export const model = cloneConfig(anchorModel);
export const dataloader = cloneConfig(cocoData);
export const lr_multiplier = cloneConfig(lr_multiplier_50ep);

export const optimizer = cloneConfig(AdamWConfig);
optimizer.lr = 1e-4;
optimizer.betas = [0.9, 0.999];
optimizer.weight_decay = 1e-4;
(optimizer.params as Record<string, unknown>).lr_factor_func = backboneLrFactor(0.1);

export const train = {
  ...cloneConfig(commonTrain),
  /** ImageNet R-50. detrex: torchvision's "https://download.pytorch.org/models/resnet50-0676ba61.pth". */
  init_checkpoint: '',
  output_dir: './output/anchor_detr_r50_50ep',
  max_iter: 375000,
  eval_period: 5000,
  log_period: 20,
  checkpointer: { period: 5000, max_to_keep: 3 },
  clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } },
  /** detrex's total batch 16 as 2 images per step x 8 accumulated steps. */
  grad_accum_steps: 8,
};
