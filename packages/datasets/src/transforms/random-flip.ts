/**
 * detectron2 `RandomFlip(prob=0.5, horizontal=True, vertical=False)` (detectron2/data/transforms/augmentation_impl.py):
 * with probability `prob`, mirror the image; boxes follow fvcore's `HFlipTransform.apply_coords`
 * (x -> w - x, so [x0, x1] -> [w - x1, w - x0]) or `VFlipTransform` (y -> h - y).
 */
import type { Rng } from '@detr/core';
import { register } from '@detr/registry';
import { flipImageHorizontal, flipImageVertical } from '../image/geometry';
import type { DetectionSample, Transform } from '../sample';

export interface RandomFlipOptions {
  prob?: number;
  horizontal?: boolean;
  vertical?: boolean;
}

export function flipSampleHorizontal(sample: DetectionSample): DetectionSample {
  const w = sample.image.width;
  const b = sample.boxes;
  const boxes = new Float32Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    boxes[i] = w - b[i + 2];
    boxes[i + 1] = b[i + 1];
    boxes[i + 2] = w - b[i];
    boxes[i + 3] = b[i + 3];
  }
  return { ...sample, image: flipImageHorizontal(sample.image), boxes };
}

export function flipSampleVertical(sample: DetectionSample): DetectionSample {
  const h = sample.image.height;
  const b = sample.boxes;
  const boxes = new Float32Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    boxes[i] = b[i];
    boxes[i + 1] = h - b[i + 3];
    boxes[i + 2] = b[i + 2];
    boxes[i + 3] = h - b[i + 1];
  }
  return { ...sample, image: flipImageVertical(sample.image), boxes };
}

@register('transform', 'random_flip')
export class RandomFlip implements Transform {
  readonly prob: number;
  readonly horizontal: boolean;

  constructor(opts: RandomFlipOptions = {}) {
    this.prob = opts.prob ?? 0.5;
    const horizontal = opts.horizontal ?? true;
    const vertical = opts.vertical ?? false;
    if (!(this.prob >= 0 && this.prob <= 1)) throw new Error(`RandomFlip: prob must be in [0, 1], got ${opts.prob}`);
    if (horizontal && vertical) throw new Error('RandomFlip: cannot do both horizontal and vertical; use two RandomFlip transforms');
    if (!horizontal && !vertical) throw new Error('RandomFlip: one of horizontal / vertical must be true');
    this.horizontal = horizontal;
  }

  apply(sample: DetectionSample, rng: Rng): DetectionSample {
    // detectron2: do = self._rand_range() < self.prob
    if (!(rng.random() < this.prob)) return sample;
    return this.horizontal ? flipSampleHorizontal(sample) : flipSampleVertical(sample);
  }
}
