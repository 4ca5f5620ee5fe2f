/**
 * Align-DETR paper Table 6(a), row "alpha = 0.5" (COCO val: AP 49.2).
 * The base config with `model.criterion.class_loss.alpha=0.5`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table6a_alpha05');
