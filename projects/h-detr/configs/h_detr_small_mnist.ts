/**
 * H-Deformable-DETR at a small scale for the embedded MNIST-detection dataset (the project's default
 * config): a half-width ResNet-18 (32-channel stem and res2, so
 * res3/res4/res5 give 64/128/256 channels) with GroupNorm trained from scratch (no ImageNet weights are downloaded), 4 levels
 * of 128 channels, 128-d deformable transformer with 2 encoder and 3 decoder layers (4 heads), and the
 * hybrid branch at the R50 config's proportions: 30 one-to-one + 150 one-to-many queries (5x, as 300 +
 * 1500), targets repeated k_one2many = 6 times. Two-stage, box refinement, mixed selection and
 * look-forward-twice as in the full config. Aimed at training on a 2-core CPU (wasm backend) in under 30
 * minutes (max_iter 600, about 15 minutes on the wasm backend); every field can be overridden from
 * the command line.
 *
 * The 180 proposals are drawn from the encoder tokens of a batch, which must have at least as many: the
 * smallest training image (96 x 96 px) gives 12^2 + 6^2 + 3^2 + 2^2 = 193 tokens over the 4 levels, so
 * smaller `dataloader.train.transforms` sizes need fewer one-to-many queries.
 */
import { cloneConfig } from '@detr/registry';
import { defaultCocoScheduler } from '../../../configs/common/coco_schedule';
import { dataloader as mnistData } from '../../../configs/common/data/mnist_det';
import { shrinkDeformableDetr, smallOptimizer, smallTrain } from '../../../configs/common/small_mnist';
import { model as hdetrModel } from './models/h_deformable_detr_r50';

// The embedded test loader batches 8 images of different sizes: detrex's all-zero padding mask at
// inference (harmless at detectron2's test batch of 1) would put the padding into the boxes' frame.
export const model = cloneConfig(hdetrModel);
Object.assign(model, {
  num_classes: 10,
  num_queries_one2one: 30,
  num_queries_one2many: 150,
  embed_dim: 128,
  select_box_nums_for_evaluation: 100,
  eval_mask: 'real',
});
shrinkDeformableDetr(model);

export const dataloader = cloneConfig(mnistData);

export const optimizer = smallOptimizer();

/** The 12-epoch recipe's shape: lr x0.1 after 11/12 of max_iter, a short warmup from scratch. */
export const lr_multiplier = defaultCocoScheduler(12, 11, 0.1);

export const train = smallTrain('./output/h_detr_small_mnist', 600);
