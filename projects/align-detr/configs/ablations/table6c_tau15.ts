/**
 * Align-DETR paper Table 6(c), row "tau = 1.5" (COCO val: AP 50.2).
 * The base config with no change (this row is the base setting); rows in ./_rows.ts.
 */
import * as base from '../aligndetr_k3_r50_4scale_12ep';
import { ablationConfig } from './_rows';

export const { model, dataloader, optimizer, lr_multiplier, train } = ablationConfig(base, 'table6c_tau15');
