// Tiny Anchor DETR models and batches for the tests (cpu backend, seconds per test).
import * as tf from '@tensorflow/tfjs';
import { Conv2d, Module, Rng } from '@detr/core';
import { SetCriterion, expandWeightDict } from '@detr/criteria';
import type { Batch } from '@detr/engine';
import { HungarianMatcher } from '@detr/matchers';
import { AnchorDETR, AnchorDETRTransformer, type AnchorDETRTransformerOptions } from '../src/index';

export const D_MODEL = 32;
export const CLASSES = 3;
export const POSITIONS = 4;
export const PATTERNS = 2;

/** Two strided convs: [B,S,S,3] -> {res5: [B,S/8,S/8,24]} (stride 8). */
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

export function tinyTransformer(opts: AnchorDETRTransformerOptions = {}): AnchorDETRTransformer {
  return new AnchorDETRTransformer({
    num_classes: CLASSES,
    d_model: D_MODEL,
    nhead: 4,
    num_encoder_layers: 1,
    num_decoder_layers: 2,
    dim_feedforward: 64,
    num_query_position: POSITIONS,
    num_query_pattern: PATTERNS,
    ...opts,
  });
}

export function tinyAnchor(opts: AnchorDETRTransformerOptions = {}): AnchorDETR {
  const transformer = tinyTransformer(opts);
  return new AnchorDETR({
    backbone: new TinyBackbone(),
    in_channels: 24,
    transformer,
    num_classes: CLASSES,
    criterion: new SetCriterion({
      num_classes: CLASSES,
      matcher: new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }),
      weight_dict: expandWeightDict({ loss_class: 2, loss_bbox: 5, loss_giou: 2 }, { num_aux: transformer.decoder_layers.length - 1 }),
    }),
  });
}

/**
 * Two size x size images (32 by default); image 1 is padded from 3/4 x 5/8 of that (bottom/right).
 * Targets: two boxes in image 0, one in image 1. Original sizes are twice the input sizes.
 */
export function tinyBatch(seed = 0, size = 32): Batch {
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
