/**
 * DINO at a small scale for the embedded MNIST-detection dataset: a half-width ResNet-18 (32-channel stem and res2, so
 * res3/res4/res5 give 64/128/256 channels) with GroupNorm trained
 * from scratch (no ImageNet weights are downloaded), 128-d transformer with 2 encoder and 3 decoder layers,
 * 4 levels, 30 queries, 10 denoising queries. Sized to train on a 2-core CPU (wasm backend) in under
 * 30 minutes. Every field can be overridden from the command line.
 */
import { cloneConfig } from '@detr/registry';
import { defaultCocoScheduler } from '../../../configs/common/coco_schedule';
import { dataloader as mnistData } from '../../../configs/common/data/mnist_det';
import { shrinkDeformableDetr, smallOptimizer, smallTrain } from '../../../configs/common/small_mnist';
import { model as dinoModel } from './models/dino_r50';

// The embedded test loader batches 8 images of different sizes: detrex's all-zero padding mask at
// inference (harmless at detectron2's test batch of 1) would put the padding into the boxes' frame.
export const model = cloneConfig(dinoModel);
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

export const train = smallTrain('./output/dino_small_mnist', 1000);
