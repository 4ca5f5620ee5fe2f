/**
 * Composition of transforms: `AugmentationList` applies its members in order (detectron2
 * `AugmentationList` / `apply_transform_gens`); `RandomChoice` applies one branch picked at random
 * (detrex's `AutoAugment(policies=[...])` in configs/common/data/coco_detr.py, or the older
 * `DetrDatasetMapper(augmentation, augmentation_with_crop)` coin flip `np.random.rand() > 0.5`).
 */
import type { Rng } from '@detr/core';
import { register } from '@detr/registry';
import type { DetectionSample, Transform } from '../sample';

function checkTransform(t: unknown, where: string): Transform {
  if (!t || typeof (t as Transform).apply !== 'function') throw new Error(`${where} is not a transform (no apply method)`);
  return t as Transform;
}

@register('transform', 'augmentation_list')
export class AugmentationList implements Transform {
  readonly augmentations: Transform[];

  constructor(opts: Transform[] | { augmentations: Transform[] }) {
    const list = Array.isArray(opts) ? opts : opts?.augmentations;
    if (!Array.isArray(list)) throw new Error('AugmentationList: expected an array of transforms or { augmentations: [...] }');
    this.augmentations = list.map((t, i) => checkTransform(t, `AugmentationList: augmentations[${i}]`));
  }

  apply(sample: DetectionSample, rng: Rng): DetectionSample {
    let out = sample;
    for (const t of this.augmentations) out = t.apply(out, rng);
    return out;
  }
}

@register('transform', 'random_choice')
export class RandomChoice implements Transform {
  readonly choices: Transform[];
  /** cumulative probabilities */
  private readonly cumulative: number[];

  /** `choices`: transforms, or lists of transforms (each list becomes an AugmentationList); `probs` default uniform. */
  constructor(opts: Array<Transform | Transform[]> | { choices: Array<Transform | Transform[]>; probs?: number[] }) {
    const list = Array.isArray(opts) ? opts : opts?.choices;
    const probs = Array.isArray(opts) ? undefined : opts.probs;
    if (!Array.isArray(list) || list.length === 0) throw new Error('RandomChoice: expected a non-empty array of transforms (or of transform lists)');
    this.choices = list.map((c, i) => (Array.isArray(c) ? new AugmentationList(c) : checkTransform(c, `RandomChoice: choices[${i}]`)));
    const p = probs ?? list.map(() => 1 / list.length);
    if (p.length !== list.length || !p.every((v) => v >= 0) || Math.abs(p.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
      throw new Error(`RandomChoice: probs must be ${list.length} non-negative numbers summing to 1, got ${JSON.stringify(probs)}`);
    }
    let acc = 0;
    this.cumulative = p.map((v) => (acc += v));
  }

  apply(sample: DetectionSample, rng: Rng): DetectionSample {
    const u = rng.random();
    let k = this.cumulative.findIndex((c) => u < c);
    if (k < 0) k = this.choices.length - 1;
    return this.choices[k].apply(sample, rng);
  }
}
