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
import { AdamWConfig } from '../../../configs/common/optim';
import { train as commonTrain } from '../../../configs/common/train';
import { model as dinoModel } from './models/dino_r50';

export const model = cloneConfig(dinoModel);
Object.assign(model, {
  num_classes: 10,
  num_queries: 30,
  embed_dim: 128,
  dn_number: 10,
  select_box_nums_for_evaluation: 100,
});
Object.assign(model.backbone as object, { depth: 18, norm: 'GN', freeze_at: 0, stem_out_channels: 32, res2_out_channels: 32 });
Object.assign(model.position_embedding as object, { num_pos_feats: 64 });
Object.assign(model.neck as object, {
  input_shapes: { res3: { channels: 64 }, res4: { channels: 128 }, res5: { channels: 256 } },
  out_channels: 128,
  norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 128 },
});
const transformer = model.transformer as Record<string, Record<string, unknown>>;
Object.assign(transformer.encoder, { embed_dim: 128, num_heads: 4, feedforward_dim: 512, num_layers: 2 });
Object.assign(transformer.decoder, { embed_dim: 128, num_heads: 4, feedforward_dim: 512, num_layers: 3 });

export const dataloader = cloneConfig(mnistData);

export const optimizer = cloneConfig(AdamWConfig);
optimizer.lr = 2e-4;
optimizer.weight_decay = 1e-4;

export const lr_multiplier = defaultCocoScheduler(12, 10, 0.1);

export const train = {
  ...cloneConfig(commonTrain),
  output_dir: './output/dino_small_mnist',
  max_iter: 1000,
  eval_period: 500,
  log_period: 20,
  checkpointer: { period: 250, max_to_keep: 2 },
};
