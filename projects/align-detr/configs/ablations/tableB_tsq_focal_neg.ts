/**
 * Align-DETR paper Table B (appendix C), row "w_pos = (t-s)^2, w_neg = (1-t)s^2" (COCO val: AP 49.8 / AP50 66.2 / AP75 54.5).
 * The base config with `model.criterion.class_loss.w_pos="(t-s)^2"`, `model.criterion.class_loss.w_neg="(1-t)s^2"`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'tableB_tsq_focal_neg');
