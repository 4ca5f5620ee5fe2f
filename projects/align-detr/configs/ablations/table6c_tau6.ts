/**
 * Align-DETR paper Table 6(c), row "tau = 6" (COCO val: AP 50.0).
 * The base config with `model.criterion.tau=6`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table6c_tau6');
