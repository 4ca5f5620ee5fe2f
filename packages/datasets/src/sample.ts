/**
 * The unit of data between the dataset, the transforms and the batcher: one decoded image with its
 * boxes in absolute xyxy pixels of that image (detectron2's `XYXY_ABS` after `transform_instance_annotations`).
 */
import type { Rng } from '@detr/core';

/** An HWC RGB image: `data[(y * width + x) * 3 + c]`. uint8 as decoded (and as PIL keeps it through resizing). */
export interface RgbImage {
  data: Uint8Array | Float32Array;
  height: number;
  width: number;
  channels: 3;
}

/** A decoded, annotated image before batching. Boxes are absolute xyxy pixels of `image`. */
export interface DetectionSample {
  imageId: number;
  fileName: string;
  image: RgbImage;
  /** n*4 xyxy pixels of `image`. */
  boxes: Float32Array;
  /** n labels, contiguous 0..C-1. */
  labels: Int32Array;
  /** n flags (1 = COCO crowd region); present only when crowd boxes were kept (evaluation datasets). */
  iscrowd?: Uint8Array;
  /** [h, w] as in the file. */
  origSize: [number, number];
}

/** One augmentation step (registered kind 'transform'). Returns a new sample; the input is not modified. */
export interface Transform {
  apply(sample: DetectionSample, rng: Rng): DetectionSample;
}

export function numBoxes(sample: DetectionSample): number {
  return sample.labels.length;
}

/** Keep the boxes (and their labels / crowd flags) whose entry in `keep` is true. */
export function selectBoxes(sample: DetectionSample, boxes: Float32Array, keep: ArrayLike<boolean>): Pick<DetectionSample, 'boxes' | 'labels' | 'iscrowd'> {
  const n = sample.labels.length;
  let kept = 0;
  for (let i = 0; i < n; i++) if (keep[i]) kept++;
  const outBoxes = new Float32Array(kept * 4);
  const outLabels = new Int32Array(kept);
  const outCrowd = sample.iscrowd ? new Uint8Array(kept) : undefined;
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (!keep[i]) continue;
    outBoxes.set(boxes.subarray(i * 4, i * 4 + 4), j * 4);
    outLabels[j] = sample.labels[i];
    if (outCrowd) outCrowd[j] = sample.iscrowd![i];
    j++;
  }
  return outCrowd ? { boxes: outBoxes, labels: outLabels, iscrowd: outCrowd } : { boxes: outBoxes, labels: outLabels };
}

/**
 * Clip boxes to the image and drop those with no area, as detectron2 does after the transforms:
 * `transform_instance_annotations` clips to [0, w] x [0, h] and `filter_empty_instances` keeps boxes whose
 * width and height exceed 1e-5 (detectron2/data/detection_utils.py, `Boxes.nonempty(threshold=1e-5)`).
 */
export function clipAndFilterBoxes(sample: DetectionSample, threshold = 1e-5): DetectionSample {
  const { width: w, height: h } = sample.image;
  const n = sample.labels.length;
  const boxes = new Float32Array(n * 4);
  const keep = new Array<boolean>(n);
  for (let i = 0; i < n; i++) {
    const x0 = Math.min(Math.max(sample.boxes[i * 4], 0), w);
    const y0 = Math.min(Math.max(sample.boxes[i * 4 + 1], 0), h);
    const x1 = Math.min(Math.max(sample.boxes[i * 4 + 2], 0), w);
    const y1 = Math.min(Math.max(sample.boxes[i * 4 + 3], 0), h);
    boxes[i * 4] = x0;
    boxes[i * 4 + 1] = y0;
    boxes[i * 4 + 2] = x1;
    boxes[i * 4 + 3] = y1;
    keep[i] = x1 - x0 > threshold && y1 - y0 > threshold;
  }
  return { ...sample, ...selectBoxes(sample, boxes, keep) };
}

/** Run transforms in order (each sees the previous one's output, like a detectron2 AugmentationList), then clip and drop empty boxes. */
export function applyTransforms(sample: DetectionSample, transforms: readonly Transform[], rng: Rng): DetectionSample {
  let out = sample;
  for (const t of transforms) out = t.apply(out, rng);
  return clipAndFilterBoxes(out);
}
