/**
 * Align-DETR R50 4-scale, k = 2, 12 epochs on COCO 2017: the official setting (FelixCaae/AlignDETR and
 * detrex `projects/align_detr/configs/aligndetr_k=2_r50_4scale_12ep.py`): match_num [2,2,2,2,2,2,1]
 * (encoder and decoder layers 0-4 many-to-one with k = 2, last layer one-to-one), tau 1.5; AdamW lr 1e-4
 * (backbone x0.1), weight decay 1e-4, clip 0.1, total batch 16, 90k iterations, lr x0.1 at 11/12;
 * log every 100 iterations, checkpoint every 10k. Official / detrex: 50.3 AP (paper, k = 3: 50.2).
 */
import { backboneLrFactor } from '@detr/engine';
import { cloneConfig } from '@detr/registry';
import { derivedMatchNum } from '../src/index';
import { lr_multiplier_12ep } from '../../../configs/common/coco_schedule';
import { dataloader as cocoData } from '../../../configs/common/data/coco_detr';
import { AdamWConfig } from '../../../configs/common/optim';
import { train as commonTrain } from '../../../configs/common/train';
import { model as alignModel } from './models/aligndetr_r50';

export const model = cloneConfig(alignModel);
Object.assign(model.criterion as object, { match_num: derivedMatchNum(2), tau: 1.5 }); // [2,2,2,2,2,2,1]

export const dataloader = cloneConfig(cocoData);
export const lr_multiplier = cloneConfig(lr_multiplier_12ep);

export const optimizer = cloneConfig(AdamWConfig);
optimizer.lr = 1e-4;
optimizer.weight_decay = 1e-4;
(optimizer.params as Record<string, unknown>).lr_factor_func = backboneLrFactor(0.1);

export const train = {
  ...cloneConfig(commonTrain),
  /** ImageNet R-50 weights (detrex: detectron2://ImageNetPretrained/torchvision/R-50.pkl): a torchvision resnet50 .pth. */
  init_checkpoint: '',
  output_dir: './output/aligndetr_k2_12ep',
  max_iter: 90000,
  eval_period: 5000,
  log_period: 100,
  checkpointer: { period: 10000, max_to_keep: 3 },
  clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } },
  /** detrex's total batch 16 as 2 images per step x 8 accumulated steps. */
  grad_accum_steps: 8,
};
