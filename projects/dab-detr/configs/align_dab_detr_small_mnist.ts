/**
 * Align-DETR on DAB-DETR at the small scale of the embedded dataset: `dab_detr_small_mnist` (same model,
 * data, optimizer and schedule) with the criterion of `align_dab_detr_r50_50ep` (mixed matching with
 * k = 2 on the decoder layers but the last, IA-BCE, prime-sample weighting tau 1.5; the paper's Table 2
 * row on DAB-DETR). A projects test checks that the two resolved configs differ only in the criterion
 * and the output folder.
 */
import { cloneConfig } from '@detr/registry';
import * as small from './dab_detr_small_mnist';
import { model as alignDab } from './align_dab_detr_r50_50ep';

export const model = cloneConfig(small.model);
model.criterion = cloneConfig(alignDab.criterion);

export const dataloader = cloneConfig(small.dataloader);
export const optimizer = cloneConfig(small.optimizer);
export const lr_multiplier = cloneConfig(small.lr_multiplier);
export const train = { ...cloneConfig(small.train), output_dir: './output/align_dab_detr_small_mnist' };
