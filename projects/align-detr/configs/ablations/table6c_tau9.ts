/**
 * Align-DETR paper Table 6(c), row "tau = 9" (COCO val: AP 49.7).
 * The base config with `model.criterion.tau=9`; rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table6c_tau9');
