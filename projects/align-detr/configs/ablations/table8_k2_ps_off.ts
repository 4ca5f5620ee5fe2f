/**
 * Align-DETR paper Table 8, row "k = 2, PS weighting off" (COCO val: AP 49.6 / AP50 66.6 / AP75 53.8).
 * The base config with `model.criterion.match_num=[2,2,2,2,2,2,1]`, `model.criterion.tau=Infinity`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table8_k2_ps_off');
