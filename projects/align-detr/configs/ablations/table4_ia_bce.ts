/**
 * Align-DETR paper Table 4, row "w/ IA-BCE (Ours)" (COCO val: AP 50.0 / AP50 67.8 / AP75 54.4).
 * The base config with `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table4_ia_bce');
