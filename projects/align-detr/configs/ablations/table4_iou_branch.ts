/**
 * Align-DETR paper Table 4, row "w/ IoU branch (IoU score weight 0.3)" (COCO val: AP 49.2 / AP50 66.3 / AP75 53.5).
 * The base config with `model._target_=detector/iou_branch_detr`, `+model.iou_score_weight=0.3`, `model.criterion.class_loss={"_target_":"loss/sigmoid_focal","alpha":0.25,"gamma":2}`, `model.criterion.match_num=[1,1,1,1,1,1,1]`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table4_iou_branch');
