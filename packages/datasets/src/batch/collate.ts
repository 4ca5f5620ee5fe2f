/**
 * Batching as detrex's detectors do it (e.g. detrex/projects/dino/modeling/dino.py `preprocess_image`
 * and `forward`): each image normalised with detectron2's RGB pixel mean/std, zero-padded at the bottom /
 * right to the batch maximum (`ImageList.from_tensors`, optionally rounded up to `size_divisibility`), a
 * padding mask with true = padding (`img_masks[img_id, :img_h, :img_w] = 0`), and targets as boxes
 * normalised by each image's own unpadded size, converted to cxcywh (`prepare_targets`); crowd boxes
 * (present only when a dataset keeps them for evaluation) are left out of the targets.
 */
import * as tf from '@tensorflow/tfjs';
import type { DetectionSample } from '../sample';

/** detectron2 / detrex `pixel_mean` and `pixel_std` for RGB 0-255 input (ImageNet statistics). */
export const PIXEL_MEAN = [123.675, 116.28, 103.53];
export const PIXEL_STD = [58.395, 57.12, 57.375];

export interface BatchTarget {
  labels: Int32Array;
  /** n*4 normalised cxcywh w.r.t. the image's own (unpadded, transformed) size */
  boxes: Float32Array;
}

export interface Batch {
  /** [B, Hmax, Wmax, 3] float32, (x - mean) / std, zero-padded bottom/right */
  images: tf.Tensor4D;
  /** [B, Hmax, Wmax] bool, true = padding */
  masks: tf.Tensor3D;
  targets: BatchTarget[];
  imageIds: number[];
  /** transformed, unpadded [h, w] */
  imageSizes: [number, number][];
  /** [h, w] of the file */
  origSizes: [number, number][];
}

export interface CollateOptions {
  pixel_mean?: number[];
  pixel_std?: number[];
  /** pad Hmax and Wmax up to a multiple of this (detectron2 ImageList size_divisibility). Default 0 (none). */
  size_divisibility?: number;
}

/** xyxy pixels -> cxcywh normalised by [w, h] (detrex `box_xyxy_to_cxcywh(gt_boxes / image_size_xyxy)`). */
export function normalizedCxcywh(boxes: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    const x0 = boxes[i] / w, y0 = boxes[i + 1] / h, x1 = boxes[i + 2] / w, y1 = boxes[i + 3] / h;
    out[i] = (x0 + x1) / 2;
    out[i + 1] = (y0 + y1) / 2;
    out[i + 2] = x1 - x0;
    out[i + 3] = y1 - y0;
  }
  return out;
}

/** Training target of a sample: crowd regions (kept only in evaluation datasets) are never targets. */
function nonCrowdTarget(s: DetectionSample): BatchTarget {
  const boxes = normalizedCxcywh(s.boxes, s.image.height, s.image.width);
  if (!s.iscrowd || s.iscrowd.every((c) => c === 0)) return { labels: s.labels.slice(), boxes };
  const keep = Array.from(s.iscrowd, (c) => c === 0);
  return { labels: s.labels.filter((_, i) => keep[i]), boxes: boxes.filter((_, k) => keep[k >> 2]) };
}

export function collate(samples: DetectionSample[], opts: CollateOptions = {}): Batch {
  if (samples.length === 0) throw new Error('collate: no samples');
  const mean = opts.pixel_mean ?? PIXEL_MEAN;
  const std = opts.pixel_std ?? PIXEL_STD;
  if (mean.length !== 3 || std.length !== 3 || !std.every((s) => s > 0)) throw new Error(`collate: pixel_mean / pixel_std must be 3 numbers (std > 0), got ${JSON.stringify(mean)} / ${JSON.stringify(std)}`);
  const div = opts.size_divisibility ?? 0;
  let hMax = 0, wMax = 0;
  for (const s of samples) {
    if (s.image.channels !== 3 || s.image.data.length !== s.image.height * s.image.width * 3) {
      throw new Error(`collate: image of '${s.fileName}' (id ${s.imageId}) is not ${s.image.height}x${s.image.width}x3`);
    }
    hMax = Math.max(hMax, s.image.height);
    wMax = Math.max(wMax, s.image.width);
  }
  if (div > 1) {
    hMax = Math.ceil(hMax / div) * div;
    wMax = Math.ceil(wMax / div) * div;
  }
  const B = samples.length;
  const pixels = new Float32Array(B * hMax * wMax * 3); // [B, Hmax, Wmax, 3], zeros = padding
  const mask = new Uint8Array(B * hMax * wMax).fill(1); // [B, Hmax, Wmax], 1 = padding
  // float32 arithmetic as torch does it: (x - mean32) rounded to float32, then / std32 (stored as float32).
  const m32 = mean.map(Math.fround);
  const s32 = std.map(Math.fround);
  samples.forEach((s, b) => {
    const { data, height: h, width: w } = s.image;
    for (let y = 0; y < h; y++) {
      const src = y * w * 3;
      const dst = ((b * hMax + y) * wMax) * 3;
      for (let x = 0; x < w; x++) {
        const i = src + x * 3, o = dst + x * 3;
        pixels[o] = Math.fround(data[i] - m32[0]) / s32[0];
        pixels[o + 1] = Math.fround(data[i + 1] - m32[1]) / s32[1];
        pixels[o + 2] = Math.fround(data[i + 2] - m32[2]) / s32[2];
      }
      mask.fill(0, (b * hMax + y) * wMax, (b * hMax + y) * wMax + w);
    }
  });
  return {
    images: tf.tensor4d(pixels, [B, hMax, wMax, 3], 'float32'),
    masks: tf.tensor3d(mask, [B, hMax, wMax], 'bool'),
    targets: samples.map(nonCrowdTarget),
    imageIds: samples.map((s) => s.imageId),
    imageSizes: samples.map((s) => [s.image.height, s.image.width] as [number, number]),
    origSizes: samples.map((s) => [s.origSize[0], s.origSize[1]] as [number, number]),
  };
}

/** Free a batch's tensors. */
export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.masks.dispose();
}
