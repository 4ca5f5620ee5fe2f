/**
 * Align-DETR paper Table B (appendix C), row "w_pos = (t-s)^2, w_neg = (t-s)^2" (COCO val: AP 49.6 / AP50 67.1 / AP75 54.0).
 * The base config with `model.criterion.class_loss.w_pos="(t-s)^2"`, `model.criterion.class_loss.w_neg="(t-s)^2"`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'tableB_tsq_tsq');
