/**
 * Align-DETR paper Table 5, row "IA-BCE on, mixed matching off" (COCO val: AP 50.0 / AP50 67.8 / AP75 54.2).
 * The base config with `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table5_iabce_on_mixed_off');
