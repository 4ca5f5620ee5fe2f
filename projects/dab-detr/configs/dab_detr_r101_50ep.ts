/**
 * DAB-DETR R101, 50 epochs (detrex `projects/dab_detr/configs/dab_detr_r101_50ep.py`): the R50 config
 * with a ResNet-101 backbone (`model.backbone.stages.depth = 101`; here `model.backbone.depth`).
 * COCO val AP: 43.5 (paper, DAB-DETR-R101), 44.0 (detrex's trained model).
 */
import { cloneConfig } from '@detr/registry';
import * as base from './dab_detr_r50_50ep';

export const model = cloneConfig(base.model);
Object.assign(model.backbone as object, { depth: 101 });

export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(base.lr_multiplier);
export const train = {
  ...cloneConfig(base.train),
  /** detrex: "path/to/R-101.pkl" (ImageNet R-101); a torchvision resnet101 .pth works too. */
  init_checkpoint: '',
  output_dir: './output/dab_detr_r101_50ep',
};
