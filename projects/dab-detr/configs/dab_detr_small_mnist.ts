/**
 * DAB-DETR at a small scale for the embedded MNIST-detection dataset (the project's default config): a
 * half-width ResNet-18 (32-channel stem and res2, so
 * res3/res4/res5 give 64/128/256 channels) with GroupNorm trained from scratch (no ImageNet weights are downloaded), cut after res4
 * (stride 16, 128 channels: the digits are 15-40 px, so a stride-32 res5 would leave 3-5 cells per side;
 * this plays the role of the DC5 variant), 128-d transformer with 2 encoder and 3 decoder layers (4
 * heads, PReLU FFN 512), 30 anchor queries, the R50 config's losses and matcher. Aimed at training on a
 * 2-core CPU (wasm backend) in under 30 minutes (max_iter 600, about 15 minutes on the wasm backend); every field can be overridden from the command line.
 */
import { cloneConfig } from '@detr/registry';
import { defaultCocoScheduler } from '../../../configs/common/coco_schedule';
import { dataloader as mnistData } from '../../../configs/common/data/mnist_det';
import { SMALL_BACKBONE, SMALL_EMBED_DIM, SMALL_LAYER, SMALL_NUM_DECODER_LAYERS, SMALL_NUM_ENCODER_LAYERS, SMALL_RES_CHANNELS, smallOptimizer, smallTrain } from '../../../configs/common/small_mnist';
import { model as dabModel } from './models/dab_detr_r50';

// The embedded test loader batches 8 images of different sizes: detrex's all-zero padding mask at
// inference (harmless at detectron2's test batch of 1) would put the padding into the boxes' frame.
export const model = cloneConfig(dabModel);
Object.assign(model, {
  num_classes: 10,
  num_queries: 30,
  embed_dim: SMALL_EMBED_DIM,
  in_features: ['res4'],
  in_channels: SMALL_RES_CHANNELS.res4,
  select_box_nums_for_evaluation: 100,
  eval_padding_mask: true,
});
Object.assign(model.backbone as object, { ...SMALL_BACKBONE, out_features: ['res4'] });
Object.assign(model.position_embedding as object, { num_pos_feats: SMALL_EMBED_DIM / 2 });
const transformer = model.transformer as Record<string, Record<string, unknown>>;
Object.assign(transformer.encoder, { ...SMALL_LAYER, num_layers: SMALL_NUM_ENCODER_LAYERS });
Object.assign(transformer.decoder, { ...SMALL_LAYER, num_layers: SMALL_NUM_DECODER_LAYERS });

export const dataloader = cloneConfig(mnistData);

export const optimizer = smallOptimizer();

/** The 50-epoch recipe's shape: lr x0.1 after 40/50 of max_iter, a short warmup from scratch. */
export const lr_multiplier = defaultCocoScheduler(50, 40, 0.5);

export const train = smallTrain('./output/dab_detr_small_mnist', 600);
