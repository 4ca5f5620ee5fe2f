/**
 * detectron2 `RandomCrop(crop_type, crop_size)` (detectron2/data/transforms/augmentation_impl.py) with
 * fvcore's `CropTransform`: crop size from `get_crop_size`, then the top-left corner uniform over the
 * valid positions (`h0 = randint(h - croph + 1)`, `w0 = randint(w - cropw + 1)`). Boxes are shifted by
 * the corner and clipped to the crop; boxes left without area are dropped (what detectron2's
 * `transform_instance_annotations` clip + `filter_empty_instances` do at the end of the mapper).
 */
import type { Rng } from '@detr/core';
import { register } from '@detr/registry';
import { cropImage } from '../image/geometry';
import { clipAndFilterBoxes, type DetectionSample, type Transform } from '../sample';

export type CropType = 'absolute_range' | 'absolute' | 'relative' | 'relative_range';

export interface RandomCropOptions {
  crop_type: CropType;
  crop_size: [number, number];
}

/** Crop [y0, y0+ch) x [x0, x0+cw) out of a sample, boxes shifted, clipped and filtered. */
export function cropSample(sample: DetectionSample, x0: number, y0: number, cw: number, ch: number): DetectionSample {
  const b = sample.boxes;
  const boxes = new Float32Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    boxes[i] = b[i] - x0;
    boxes[i + 1] = b[i + 1] - y0;
    boxes[i + 2] = b[i + 2] - x0;
    boxes[i + 3] = b[i + 3] - y0;
  }
  return clipAndFilterBoxes({ ...sample, image: cropImage(sample.image, x0, y0, cw, ch), boxes });
}

@register('transform', 'random_crop')
export class RandomCrop implements Transform {
  readonly cropType: CropType;
  readonly cropSize: [number, number];

  constructor(opts: RandomCropOptions) {
    const types: CropType[] = ['absolute_range', 'absolute', 'relative', 'relative_range'];
    if (!types.includes(opts.crop_type)) throw new Error(`RandomCrop: crop_type must be one of ${types.join(', ')}, got ${JSON.stringify(opts.crop_type)}`);
    const cs = opts.crop_size;
    if (!Array.isArray(cs) || cs.length !== 2 || !cs.every((v) => typeof v === 'number' && v > 0)) {
      throw new Error(`RandomCrop: crop_size must be two positive numbers, got ${JSON.stringify(cs)}`);
    }
    if (opts.crop_type.startsWith('relative') && !cs.every((v) => v <= 1)) throw new Error(`RandomCrop: relative crop_size must be in (0, 1], got ${JSON.stringify(cs)}`);
    if (opts.crop_type === 'absolute_range' && cs[0] > cs[1]) throw new Error(`RandomCrop: absolute_range crop_size must be [min, max], got ${JSON.stringify(cs)}`);
    this.cropType = opts.crop_type;
    this.cropSize = [cs[0], cs[1]];
  }

  /** detectron2 `RandomCrop.get_crop_size`: [croph, cropw] for an image of [h, w]. */
  cropSizeFor(h: number, w: number, rng: Rng): [number, number] {
    const [a, b] = this.cropSize;
    switch (this.cropType) {
      case 'relative':
        return [Math.trunc(h * a + 0.5), Math.trunc(w * b + 0.5)];
      case 'relative_range': {
        const ch = a + rng.random() * (1 - a);
        const cw = b + rng.random() * (1 - b);
        return [Math.trunc(h * ch + 0.5), Math.trunc(w * cw + 0.5)];
      }
      case 'absolute':
        return [Math.min(a, h), Math.min(b, w)];
      case 'absolute_range': {
        const ch = rng.int(Math.min(h, a), Math.min(h, b) + 1);
        const cw = rng.int(Math.min(w, a), Math.min(w, b) + 1);
        return [ch, cw];
      }
    }
  }

  apply(sample: DetectionSample, rng: Rng): DetectionSample {
    const { height: h, width: w } = sample.image;
    const [ch, cw] = this.cropSizeFor(h, w, rng);
    if (!(ch >= 1 && cw >= 1 && ch <= h && cw <= w && Number.isInteger(ch) && Number.isInteger(cw))) {
      throw new Error(`RandomCrop: crop ${ch}x${cw} does not fit image ${h}x${w} ('${sample.fileName}')`);
    }
    const y0 = rng.int(0, h - ch + 1);
    const x0 = rng.int(0, w - cw + 1);
    return cropSample(sample, x0, y0, cw, ch);
  }
}
