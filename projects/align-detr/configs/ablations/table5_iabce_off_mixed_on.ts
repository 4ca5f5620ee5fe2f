/**
 * Align-DETR paper Table 5, row "IA-BCE off, mixed matching on" (COCO val: AP 49.1 / AP50 67.5 / AP75 53.4).
 * The base config with `model.criterion.class_loss={"_target_":"loss/sigmoid_focal","alpha":0.25,"gamma":2}`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table5_iabce_off_mixed_on');
