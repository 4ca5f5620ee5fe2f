/**
 * Test helpers shared by the projects' config tests (`@detr/engine/testing`): a few real training
 * steps of a resolved config, built as `launch()` builds it, on a tiny copy of the embedded dataset.
 */
import * as tf from '@tensorflow/tfjs';
import { seedEverything } from '@detr/core';
import { instantiate, runAsyncSetup, type ConfigNode } from '@detr/registry';
import type { AdamW } from './optim/adamw';
import type { ParamScheduler } from './optim/lr_schedule';
import { Trainer } from './trainer';
import type { TrainableDetector, TrainLoader } from './types';

type Cfg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Overrides that shrink the embedded MNIST-detection data of a small config to 8 + 4 images of 48-96 px, generated into cacheDir. */
export function tinyMnistOverrides(cacheDir: string): string[] {
  return [
    `+dataloader.train.dataset.cache_dir=${cacheDir}`,
    'dataloader.train.dataset.num_train=8',
    'dataloader.train.dataset.num_val=4',
    'dataloader.train.batch_size=2',
    'dataloader.train.transforms.short_edge_length=[64]',
    'dataloader.train.transforms.max_size=96',
    'dataloader.train.transforms.crop_pre_resize=[64]',
    'dataloader.train.transforms.crop_size=[48, 64]',
  ];
}

/**
 * Build model / optimizer / schedule / loader from a resolved config as launch() does and run `steps`
 * updates; returns each step's losses and the live tensor count after it (flat once warmed up).
 */
export async function trainSteps(cfg: Cfg, steps: number): Promise<{ losses: Record<string, number>[]; tensors: number[] }> {
  await runAsyncSetup(cfg.dataloader.train as ConfigNode);
  seedEverything(Number(cfg.train.seed));
  const model = instantiate<TrainableDetector>(cfg.model);
  const optimizer = instantiate<AdamW>({ ...cfg.optimizer, params: { ...cfg.optimizer.params, model } });
  const trainer = new Trainer({
    model,
    optimizer,
    loader: instantiate<TrainLoader>(cfg.dataloader.train),
    scheduler: instantiate<ParamScheduler>(cfg.lr_multiplier),
    max_iter: Number(cfg.train.max_iter),
    clip_grad: { enabled: true, max_norm: cfg.train.clip_grad.params.max_norm, norm_type: cfg.train.clip_grad.params.norm_type },
  });
  model.train();
  const losses: Record<string, number>[] = [];
  const tensors: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(trainer.runStep().losses);
    trainer.iter += 1;
    tensors.push(tf.memory().numTensors);
  }
  optimizer.dispose();
  model.dispose();
  return { losses, tensors };
}
