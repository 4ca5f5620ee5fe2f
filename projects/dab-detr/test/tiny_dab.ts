// Tiny DAB-DETR models and batches for the tests (cpu backend, seconds per test).
import * as tf from '@tensorflow/tfjs';
import { Conv2d, Module, Rng } from '@detr/core';
import { ResNet } from '@detr/backbones';
import { SetCriterion, expandWeightDict } from '@detr/criteria';
import type { Batch } from '@detr/engine';
import { HungarianMatcher } from '@detr/matchers';
import { PositionEmbeddingSine } from '@detr/transformers';
import { DABDETR, DabDetrTransformer, DabDetrTransformerDecoder, DabDetrTransformerEncoder, type DABDETROptions } from '../src/index';

export const EMBED = 32;
export const CLASSES = 3;
export const QUERIES = 8;

/** Two strided convs: [B,64,64,3] -> {res5: [B,8,8,24]} (stride 8). */
export class TinyBackbone extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  constructor() {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(3, 16, 3, { stride: 4, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(16, 24, 3, { stride: 2, padding: 1 }));
  }
  forward(x: tf.Tensor4D): Record<string, tf.Tensor4D> {
    return tf.tidy(() => ({ res5: this.conv2.forward(tf.relu(this.conv1.forward(x))) }));
  }
}

export interface TinyOptions {
  backbone?: 'tiny' | 'resnet18';
  layers?: number;
  num_patterns?: number;
  extra?: Partial<DABDETROptions>;
}

export function tinyDab(opts: TinyOptions = {}): DABDETR {
  const layers = opts.layers ?? 2;
  const common = { embed_dim: EMBED, num_heads: 4, feedforward_dim: 64, attn_dropout: 0, ffn_dropout: 0, num_layers: layers };
  const backbone = opts.backbone === 'resnet18' ? new ResNet({ depth: 18, out_features: ['res5'], freeze_at: 1 }) : new TinyBackbone();
  const matcher = new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 });
  return new DABDETR({
    backbone,
    in_channels: opts.backbone === 'resnet18' ? 512 : 24,
    position_embedding: new PositionEmbeddingSine({ num_pos_feats: EMBED / 2, temperature: 20, normalize: true }),
    transformer: new DabDetrTransformer({
      encoder: new DabDetrTransformerEncoder(common),
      decoder: new DabDetrTransformerDecoder({ ...common, modulate_hw_attn: true }),
      num_patterns: opts.num_patterns ?? 0,
    }),
    embed_dim: EMBED,
    num_classes: CLASSES,
    num_queries: QUERIES,
    criterion: new SetCriterion({
      num_classes: CLASSES,
      matcher,
      weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: layers - 1 }),
    }),
    ...opts.extra,
  });
}

/**
 * Two size x size images (64 by default); image 1 is padded from 3/4 x 5/8 of that (bottom/right).
 * Targets: two boxes in image 0, one in image 1. Original sizes are twice the input sizes.
 */
export function tinyBatch(seed = 0, size = 64): Batch {
  const rng = new Rng(seed);
  const b = 2;
  const valid: [number, number][] = [[size, size], [(size * 3) / 4, (size * 5) / 8]];
  const img = new Float32Array(b * size * size * 3);
  const mask = new Uint8Array(b * size * size);
  for (let i = 0; i < b; i++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = y < valid[i][0] && x < valid[i][1];
        mask[(i * size + y) * size + x] = inside ? 0 : 1;
        for (let c = 0; c < 3; c++) img[((i * size + y) * size + x) * 3 + c] = inside ? rng.normal() : 0;
      }
    }
  }
  return {
    images: tf.tensor4d(img, [b, size, size, 3]),
    masks: tf.tensor3d(mask, [b, size, size], 'bool'),
    targets: [
      { labels: Int32Array.from([0, 2]), boxes: Float32Array.from([0.3, 0.3, 0.2, 0.3, 0.7, 0.6, 0.4, 0.3]) },
      { labels: Int32Array.from([1]), boxes: Float32Array.from([0.5, 0.5, 0.5, 0.4]) },
    ],
    imageIds: [1, 2],
    imageSizes: valid,
    origSizes: valid.map(([h, w]) => [2 * h, 2 * w] as [number, number]),
  };
}
