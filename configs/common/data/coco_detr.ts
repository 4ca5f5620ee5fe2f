/**
 * COCO 2017 with the DETR augmentation recipe (detrex `configs/common/data/coco_detr.py`): random flip,
 * then either a multi-scale resize (short edge 480..800, max 1333) or resize 400/500/600 -> random crop
 * 384..600 -> multi-scale resize; test: short edge 800, max 1333. Paths are below $DETR_DATASETS
 * (default ./datasets), laid out as detectron2 expects: coco/{train2017,val2017,annotations}.
 */
import { join } from 'node:path';
import { CocoDetectionDataset, DataLoader, detrTestTransforms, detrTrainTransforms, PIXEL_MEAN, PIXEL_STD } from '@detr/datasets';
import { L } from '@detr/registry';

const root = process.env.DETR_DATASETS ?? 'datasets';

export const dataloader = {
  train: L(DataLoader)({
    dataset: L(CocoDetectionDataset)({
      ann_file: join(root, 'coco/annotations/instances_train2017.json'),
      img_dir: join(root, 'coco/train2017'),
      is_train: true,
      filter_empty: true,
    }),
    transforms: L(detrTrainTransforms)({}),
    /** Per step; detrex's total batch is 16: use train.grad_accum_steps for large effective batches. */
    batch_size: 2,
    shuffle: true,
    seed: '${...train.seed}',
  }),
  test: L(DataLoader)({
    dataset: L(CocoDetectionDataset)({
      ann_file: join(root, 'coco/annotations/instances_val2017.json'),
      img_dir: join(root, 'coco/val2017'),
      is_train: false,
      filter_empty: false,
    }),
    transforms: L(detrTestTransforms)({}),
    batch_size: 1,
    shuffle: false,
    seed: 0,
  }),
  pixel_mean: PIXEL_MEAN,
  pixel_std: PIXEL_STD,
};
