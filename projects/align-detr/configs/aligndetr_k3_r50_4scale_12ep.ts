/**
 * Align-DETR R50 4-scale with the paper's default k = 3 (arXiv 2304.07527v1 section 4.1 and Table A:
 * k 3, alpha 0.25, gamma 2, tau 1.5; 12 epochs): the k = 2 config with match_num [3,3,3,3,3,3,1]
 * (k = 3 on the encoder and decoder layers 0-4, one-to-one on the last layer; the paper applies k to the
 * intermediate layers, the official code also to the encoder proposals). Paper: 50.2 AP (Table 3).
 * This is the base of every ablation config (ablations/).
 */
import { cloneConfig } from '@detr/registry';
import { derivedMatchNum } from '../src/index';
import * as base from './aligndetr_k2_r50_4scale_12ep';

export const model = cloneConfig(base.model);
Object.assign(model.criterion as object, { match_num: derivedMatchNum(3), tau: 1.5 }); // [3,3,3,3,3,3,1]
export const dataloader = cloneConfig(base.dataloader);
export const optimizer = cloneConfig(base.optimizer);
export const lr_multiplier = cloneConfig(base.lr_multiplier);
export const train = { ...cloneConfig(base.train), output_dir: './output/aligndetr_k3_12ep' };
