/**
 * Align-DETR paper Table 6(b), row "k = 4" (COCO val: AP 50.2).
 * The base config with `model.criterion.match_num=[4,4,4,4,4,4,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table6b_k4');
