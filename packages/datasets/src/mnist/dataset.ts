/**
 * The embedded dataset as a config part: `L(mnistDetectionDataset)({ split: 'train' })` is a
 * CocoDetectionDataset over the generated MNIST-detection split. Generation is asynchronous, so it is
 * registered as an async setup that `runAsyncSetup(cfg)` awaits before `instantiate`.
 */
import { register, registerAsyncSetup } from '@detr/registry';
import { CocoDetectionDataset, type CocoDetectionDatasetOptions } from '../coco/coco-dataset';
import { ensureMnistDetection, locateMnistDetection, type MnistDetectionOptions } from './ensure';

export interface MnistDetectionDatasetOptions extends MnistDetectionOptions, Omit<CocoDetectionDatasetOptions, 'ann_file' | 'img_dir'> {
  split: 'train' | 'val';
}

function generatorOptions(opts: MnistDetectionDatasetOptions): MnistDetectionOptions {
  return { cache_dir: opts.cache_dir, num_train: opts.num_train, num_val: opts.num_val, seed: opts.seed, log: opts.log };
}

export function mnistDetectionDataset(opts: MnistDetectionDatasetOptions): CocoDetectionDataset {
  if (opts.split !== 'train' && opts.split !== 'val') throw new Error(`mnistDetectionDataset: split must be "train" or "val", got ${JSON.stringify(opts.split)}`);
  const paths = locateMnistDetection(generatorOptions(opts));
  if (!paths) {
    throw new Error('the MNIST detection dataset has not been generated yet: call ensureMnistDetection() (or runAsyncSetup(cfg)) first');
  }
  const { split, cache_dir: _c, num_train: _t, num_val: _v, seed: _s, ...datasetOptions } = opts;
  return new CocoDetectionDataset({ ...paths[split], is_train: split === 'train', ...datasetOptions });
}

register('dataset', 'mnist_det')(mnistDetectionDataset);
registerAsyncSetup(mnistDetectionDataset, async (node) => {
  await ensureMnistDetection(generatorOptions(node as unknown as MnistDetectionDatasetOptions));
});
