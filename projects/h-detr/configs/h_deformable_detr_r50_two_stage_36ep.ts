/**
 * H-Deformable-DETR R50 two-stage, 36 epochs (detrex
 * `projects/h_deformable_detr/configs/h_deformable_detr_r50_two_stage_36ep.py`): the 12-epoch config with
 * 270k iterations and lr x0.1 at 30/36.
 * COCO val AP: 50.0 (official H-Deformable-DETR + tricks, 36 epochs), 50.3 (detrex's converted model).
 */
import { cloneConfig } from '@detr/registry';
import { lr_multiplier_36ep } from '../../../configs/common/coco_schedule';
import * as base from './h_deformable_detr_r50_two_stage_12ep';

export const model = cloneConfig(base.model);
export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(lr_multiplier_36ep);
export const train = { ...cloneConfig(base.train), max_iter: 270000, output_dir: './output/h_deformable_detr_r50_two_stage_36ep' };
