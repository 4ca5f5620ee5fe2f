/**
 * The embedded MNIST-detection dataset (generated on first use into .cache/, no download): real MNIST
 * digits on 96-160 px canvases, 2-6 digits per image, 10 categories. The DETR recipe at a small scale:
 * flip, multi-scale resize of the short edge around the native size, or resize -> crop -> resize.
 */
import { DataLoader, detrTestTransforms, detrTrainTransforms, MNIST_CATEGORIES, mnistDetectionDataset, PIXEL_MEAN, PIXEL_STD } from '@detr/datasets';
import { L } from '@detr/registry';

export const dataloader = {
  train: L(DataLoader)({
    dataset: L(mnistDetectionDataset)({ split: 'train', num_train: 4000, num_val: 500 }),
    transforms: L(detrTrainTransforms)({
      short_edge_length: [96, 112, 128, 144, 160],
      max_size: 256,
      crop_pre_resize: [112, 128, 144],
      crop_size: [80, 128],
    }),
    batch_size: 4,
    shuffle: true,
    seed: '${...train.seed}',
  }),
  test: L(DataLoader)({
    dataset: L(mnistDetectionDataset)({ split: 'val', num_train: 4000, num_val: 500 }),
    transforms: L(detrTestTransforms)({ short: 128, max: 256 }),
    batch_size: 8,
    shuffle: false,
    seed: 0,
  }),
  pixel_mean: PIXEL_MEAN,
  pixel_std: PIXEL_STD,
  class_names: MNIST_CATEGORIES.map((c) => c.name),
};
