/**
 * Loads ImageNet (or detector) weights into a ResNet by name: torchvision, detectron2 or detrex
 * (`backbone.*`) naming, in PyTorch's layout (conv OIHW), as tf.Tensors or RawTensors.
 */
import * as tf from '@tensorflow/tfjs';
import { type LoadReport, type RawTensor, isRawTensor, rawToTensor } from '@detr/core';
import type { ResNet } from './resnet';
import { detectResNetKeyFormat, type ResNetKeyFormat, toDetectron2Keys } from './weight_keys';

export interface LoadResNetWeightsOptions {
  /** Naming of the given keys; 'auto' (default) detects it from the stem key. */
  format?: ResNetKeyFormat | 'auto';
  /** Prefix of the detrex naming (default 'backbone.'). */
  prefix?: string;
  /**
   * Strict (default): every tensor of the model must be given, with the right shape, and nothing else
   * except the stages the model did not build (a ResNet cut at res4 ignores res5.*).
   */
  strict?: boolean;
}

export interface ResNetLoadReport extends LoadReport {
  /** Naming that was used. */
  format: ResNetKeyFormat;
  /** Checkpoint entries (detectron2 names) for stages this ResNet did not build. */
  skipped: string[];
}

export function loadResNetWeights(
  model: ResNet,
  weights: Map<string, tf.Tensor | RawTensor>,
  opts: LoadResNetWeightsOptions = {},
): ResNetLoadReport {
  const prefix = opts.prefix ?? 'backbone.';
  const format = !opts.format || opts.format === 'auto' ? detectResNetKeyFormat(weights.keys(), prefix) : opts.format;
  const renamed = toDetectron2Keys(weights, format, prefix);
  const built = new Set(['stem', ...model.stageNames]);
  const skipped: string[] = [];
  const tensors = new Map<string, tf.Tensor>();
  const created: tf.Tensor[] = [];
  try {
    for (const [key, value] of renamed) {
      const top = key.slice(0, key.indexOf('.'));
      if (/^res\d$/.test(top) && !built.has(top)) {
        skipped.push(key);
        continue;
      }
      if (isRawTensor(value)) {
        const t = rawToTensor(value, `ResNet weight "${key}"`);
        created.push(t);
        tensors.set(key, t);
      } else {
        tensors.set(key, value as tf.Tensor);
      }
    }
    let report: LoadReport;
    try {
      // Strict mode checks every key and shape before assigning anything.
      report = model.loadStateDict(tensors, { layout: 'torch', strict: opts.strict ?? true });
    } catch (err) {
      throw new Error(`loadResNetWeights (checkpoint in ${format} names): ${(err as Error).message}`);
    }
    return { ...report, format, skipped };
  } finally {
    for (const t of created) t.dispose();
  }
}
