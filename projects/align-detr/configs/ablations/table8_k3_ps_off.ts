/**
 * Align-DETR paper Table 8, row "k = 3, PS weighting off" (COCO val: AP 49.7 / AP50 66.7 / AP75 53.9).
 * The base config with `model.criterion.tau=Infinity`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table8_k3_ps_off');
