/**
 * Align-DETR at a small scale for the embedded MNIST-detection dataset: exactly the shrink of DINO's
 * `projects/dino/configs/dino_small_mnist.ts` (half-width ResNet-18 (32-channel stem and res2, so
 * res3/res4/res5 give 64/128/256 channels) with GroupNorm trained from scratch, 128-d
 * transformer with 2 encoder and 3 decoder layers, 4 levels, 30 queries, 10 denoising queries; a
 * projects test checks that the two resolved configs differ only in the detector class, the criterion
 * and the output folder), with Align-DETR's criterion at the official k = 2 (match_num follows the
 * decoder depth: [encoder, decoder 0, decoder 1, last] = [2, 2, 2, 1]), tau 1.5. Sized to train on a 2-core CPU
 * (wasm backend) in under 30 minutes. The project's default config.
 */
import { cloneConfig } from '@detr/registry';
import { defaultCocoScheduler } from '../../../configs/common/coco_schedule';
import { dataloader as mnistData } from '../../../configs/common/data/mnist_det';
import { shrinkDeformableDetr, smallOptimizer, smallTrain } from '../../../configs/common/small_mnist';
import { model as alignModel } from './models/aligndetr_r50';

// The embedded test loader batches 8 images of different sizes: detrex's all-zero padding mask at
// inference (harmless at detectron2's test batch of 1) would put the padding into the boxes' frame.
export const model = cloneConfig(alignModel);
Object.assign(model, {
  num_classes: 10,
  num_queries: 30,
  embed_dim: 128,
  dn_number: 10,
  select_box_nums_for_evaluation: 100,
  eval_mask: 'real',
});
shrinkDeformableDetr(model);

export const dataloader = cloneConfig(mnistData);

export const optimizer = smallOptimizer();

export const lr_multiplier = defaultCocoScheduler(12, 10, 0.1);

export const train = smallTrain('./output/aligndetr_small_mnist', 1000);
