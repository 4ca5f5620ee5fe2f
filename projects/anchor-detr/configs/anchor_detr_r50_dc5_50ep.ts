/**
 * Anchor DETR R50-DC5, 50 epochs (detrex `projects/anchor_detr/configs/anchor_detr_r50_dc5_50ep.py`:
 * `model.backbone.dilation = True`; the official `main.py` default `--dilation True`): res5 keeps
 * stride 16 with dilated convs; training as anchor_detr_r50_50ep.
 * COCO val AP: 44.3 (official AnchorDETR-DC5 R50 README; 44.2 in the paper's table), 44.2 (detrex's
 * converted official model).
 *
 * torchvision's dilated ResNet (detrex's TorchvisionResNet, the official code's backbone) keeps dilation 1
 * in the 3x3 conv of res5's FIRST block and dilates the others: `dc5_style: 'after_first'`.
 */
import { cloneConfig } from '@detr/registry';
import * as base from './anchor_detr_r50_50ep';

export const model = cloneConfig(base.model);
Object.assign(model.backbone as object, { res5_dilation: 2, dc5_style: 'after_first' });

export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(base.lr_multiplier);
export const train = { ...cloneConfig(base.train), output_dir: './output/anchor_detr_r50_dc5_50ep' };
