/**
 * detectron2 `ResizeShortestEdge(short_edge_length, max_size=sys.maxsize, sample_style="range")`
 * (detectron2/data/transforms/augmentation_impl.py): the shorter side becomes a sampled length (uniform
 * integer in [min, max] for "range", one of the list for "choice"), the longer side is scaled alike and
 * capped at `max_size`, both rounded with `int(x + 0.5)`; the image is resized with Pillow bilinear
 * (`ResizeTransform`, see image/resize.ts) and boxes are scaled by new_w / w and new_h / h.
 */
import type { Rng } from '@detr/core';
import { register } from '@detr/registry';
import { resizeImage } from '../image/resize';
import type { DetectionSample, Transform } from '../sample';

export interface ResizeShortestEdgeOptions {
  short_edge_length: number | number[];
  max_size?: number;
  sample_style?: 'range' | 'choice';
}

/** New [h, w] for a given shortest-edge length (detectron2's `get_output_shape`). */
export function shortestEdgeSize(h: number, w: number, size: number, maxSize = Infinity): [number, number] {
  const scale = (size * 1.0) / Math.min(h, w);
  let newh: number, neww: number;
  if (h < w) {
    newh = size;
    neww = scale * w;
  } else {
    newh = scale * h;
    neww = size;
  }
  if (Math.max(newh, neww) > maxSize) {
    const s = (maxSize * 1.0) / Math.max(newh, neww);
    newh = newh * s;
    neww = neww * s;
  }
  return [Math.trunc(newh + 0.5), Math.trunc(neww + 0.5)];
}

/** Resize a sample to exactly [newH, newW]; boxes scale per axis (`ResizeTransform.apply_coords`). */
export function resizeSample(sample: DetectionSample, newH: number, newW: number): DetectionSample {
  const { height: h, width: w } = sample.image;
  if (newH === h && newW === w) return sample;
  const sx = (newW * 1.0) / w;
  const sy = (newH * 1.0) / h;
  const b = sample.boxes;
  const boxes = new Float32Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    boxes[i] = b[i] * sx;
    boxes[i + 1] = b[i + 1] * sy;
    boxes[i + 2] = b[i + 2] * sx;
    boxes[i + 3] = b[i + 3] * sy;
  }
  return { ...sample, image: resizeImage(sample.image, newH, newW), boxes };
}

@register('transform', 'resize_shortest_edge')
export class ResizeShortestEdge implements Transform {
  readonly shortEdgeLength: number[];
  readonly maxSize: number;
  readonly isRange: boolean;

  constructor(opts: ResizeShortestEdgeOptions) {
    const style = opts.sample_style ?? 'range';
    if (style !== 'range' && style !== 'choice') throw new Error(`ResizeShortestEdge: sample_style must be 'range' or 'choice', got ${JSON.stringify(style)}`);
    this.isRange = style === 'range';
    const lengths = typeof opts.short_edge_length === 'number' ? [opts.short_edge_length, opts.short_edge_length] : [...(opts.short_edge_length ?? [])];
    if (lengths.length === 0 || !lengths.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new Error(`ResizeShortestEdge: short_edge_length must be a non-negative integer or a list of them, got ${JSON.stringify(opts.short_edge_length)}`);
    }
    if (this.isRange && (lengths.length !== 2 || lengths[0] > lengths[1])) {
      throw new Error(`ResizeShortestEdge: sample_style 'range' needs short_edge_length [min, max], got ${JSON.stringify(opts.short_edge_length)}`);
    }
    this.shortEdgeLength = lengths;
    this.maxSize = opts.max_size ?? Infinity;
    if (!(this.maxSize > 0)) throw new Error(`ResizeShortestEdge: max_size must be positive, got ${opts.max_size}`);
  }

  apply(sample: DetectionSample, rng: Rng): DetectionSample {
    const size = this.isRange ? rng.int(this.shortEdgeLength[0], this.shortEdgeLength[1] + 1) : rng.choice(this.shortEdgeLength);
    if (size === 0) return sample;
    const [newH, newW] = shortestEdgeSize(sample.image.height, sample.image.width, size, this.maxSize);
    return resizeSample(sample, newH, newW);
  }
}
