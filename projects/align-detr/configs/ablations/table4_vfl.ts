/**
 * Align-DETR paper Table 4, row "w/ VFL" (COCO val: AP 48.7 / AP50 67.0 / AP75 52.3).
 * The base config with `model.criterion.class_loss={"_target_":"loss/vfl","alpha":0.75,"gamma":2}`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table4_vfl');
