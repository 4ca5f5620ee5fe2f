/**
 * Align-DETR paper Table 6(b), row "k = 2" (COCO val: AP 50.1).
 * The base config with `model.criterion.match_num=[2,2,2,2,2,2,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table6b_k2');
