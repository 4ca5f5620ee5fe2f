/**
 * Align-DETR R50 4-scale, k = 2, 24 epochs (official / detrex `aligndetr_k=2_r50_4scale_24ep.py`): the
 * 12-epoch config with 180k iterations and lr x0.1 at 20/24. Unlike DINO's 24-epoch config, upstream
 * keeps the position embedding (temperature 10000, offset -0.5) and filter_empty. Official / detrex:
 * 51.4 AP (paper, k = 3: 51.3).
 */
import { cloneConfig } from '@detr/registry';
import { lr_multiplier_24ep } from '../../../configs/common/coco_schedule';
import * as base from './aligndetr_k2_r50_4scale_12ep';

export const model = cloneConfig(base.model);
export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(lr_multiplier_24ep);
export const train = { ...cloneConfig(base.train), max_iter: 180000, output_dir: './output/aligndetr_k2_24ep' };
