/**
 * Align-DETR paper Table B (appendix C), row "w_pos = (1-s)^2, w_neg = 0 (focal loss baseline)" (COCO val: AP 49.0 / AP50 66.6 / AP75 53.5).
 * The base config with `model.criterion.class_loss.w_pos="(1-s)^2"`, `model.criterion.class_loss.w_neg="0"`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'tableB_focal_form');
