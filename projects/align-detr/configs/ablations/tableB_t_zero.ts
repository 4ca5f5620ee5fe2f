/**
 * Align-DETR paper Table B (appendix C), row "w_pos = t, w_neg = 0" (COCO val: AP 48.0 / AP50 67.6 / AP75 51.8).
 * The base config with `model.criterion.class_loss.w_neg="0"`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'tableB_t_zero');
