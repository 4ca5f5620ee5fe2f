/**
 * DAB-DETR R50-DC5, 50 epochs (detrex `projects/dab_detr/configs/dab_detr_r50_dc5_50ep.py` with
 * `models/dab_detr_r50_dc5.py`): res5 keeps stride 16 with dilated convs, and the position embedding
 * uses temperature 10 ("DAB-DETR using 10 temperature for DC5 model"); training as dab_detr_r50_50ep.
 * COCO val AP: 44.5 (paper, DAB-DETR-DC5-R50), 44.6 (detrex's converted official model).
 *
 * detrex builds this backbone with torchvision's ResNet (`TorchvisionResNet(name="resnet50",
 * dilation=True, train_backbone=True)`), which trains layer2..layer4 only: stem and res2 frozen, i.e.
 * freeze_at 2 here. torchvision keeps dilation 1 in the 3x3 conv of res5's FIRST block (its
 * `previous_dilation`) and dilates the others: `dc5_style: 'after_first'` (detectron2's DC5 dilates all).
 */
import { cloneConfig } from '@detr/registry';
import * as base from './dab_detr_r50_50ep';

export const model = cloneConfig(base.model);
Object.assign(model.backbone as object, { depth: 50, res5_dilation: 2, dc5_style: 'after_first', freeze_at: 2, out_features: ['res5'] });
Object.assign(model.position_embedding as object, { temperature: 10 });

export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(base.lr_multiplier);
export const train = {
  ...cloneConfig(base.train),
  /** detrex: torchvision's "https://download.pytorch.org/models/resnet50-0676ba61.pth". */
  init_checkpoint: '',
  output_dir: './output/dab_detr_r50_dc5_50ep',
};
