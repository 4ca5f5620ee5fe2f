/**
 * detectron2's `get_norm` (`detectron2/layers/batch_norm.py`) for the norms a detr-ts ResNet supports:
 * 'FrozenBN' (the detrex default: a fixed affine transform held in four buffers) and 'GN'
 * (GroupNorm(32, C), trainable, for training a small backbone from scratch). '' means no norm.
 */
import type * as tf from '@tensorflow/tfjs';
import { FrozenBatchNorm2d, GroupNorm, type Module } from '@detr/core';

export const NORM_NAMES = ['FrozenBN', 'GN', ''] as const;
export type NormName = (typeof NORM_NAMES)[number];

/** A norm module applied to NHWC feature maps. */
export type NormLayer = Module & { forward(x: tf.Tensor4D): tf.Tensor };

export function isNormName(v: unknown): v is NormName {
  return typeof v === 'string' && (NORM_NAMES as readonly string[]).includes(v);
}

/** Throws a clear error (naming `where`) unless `v` is a supported norm name. */
export function checkNormName(v: unknown, where: string): NormName {
  if (!isNormName(v)) {
    throw new Error(`${where}: unknown norm ${JSON.stringify(v)} (supported: ${NORM_NAMES.map((n) => JSON.stringify(n)).join(', ')})`);
  }
  return v;
}

/** A norm layer over `channels` NHWC channels, or null for ''. */
export function getNorm(norm: NormName, channels: number): NormLayer | null {
  switch (checkNormName(norm, 'getNorm')) {
    case 'FrozenBN':
      return new FrozenBatchNorm2d(channels);
    case 'GN':
      return new GroupNorm(32, channels);
    case '':
      return null;
  }
}
