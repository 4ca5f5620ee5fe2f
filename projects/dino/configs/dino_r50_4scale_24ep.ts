/**
 * DINO R50 4-scale, 24 epochs (detrex `dino_r50_4scale_24ep.py`): position embedding temperature 20 and
 * offset 0, images without objects kept (filter_empty false), 180k iterations, lr x0.1 at 20/24.
 * Paper/detrex: 50.6 AP.
 */
import { cloneConfig } from '@detr/registry';
import { lr_multiplier_24ep } from '../../../configs/common/coco_schedule';
import * as base from './dino_r50_4scale_12ep';

export const model = cloneConfig(base.model);
Object.assign(model.position_embedding as object, { temperature: 20, offset: 0.0 });
export const dataloader = cloneConfig(base.dataloader);
Object.assign((dataloader.train as unknown as { dataset: object }).dataset, { filter_empty: false });
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(lr_multiplier_24ep);
export const train = { ...cloneConfig(base.train), max_iter: 180000, output_dir: './output/dino_r50_4scale_24ep' };
