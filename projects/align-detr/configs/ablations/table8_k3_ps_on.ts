/**
 * Align-DETR paper Table 8, row "k = 3, PS weighting on" (COCO val: AP 50.2 / AP50 67.8 / AP75 54.4).
 * The base config with no change (this row is the base setting); rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table8_k3_ps_on');
