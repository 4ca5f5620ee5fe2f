/**
 * Align-DETR paper Table 4, row "w/ QFL (gamma=2)" (COCO val: AP 47.6 / AP50 64.3 / AP75 51.8).
 * The base config with `model.criterion.class_loss={"_target_":"loss/qfl","beta":2}`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table4_qfl_gamma2');
