/**
 * detrex's DETR data recipe (configs/common/data/coco_detr.py) with its sizes as parameters:
 *
 * train: RandomFlip(), then with probability 1/2 either
 *          ResizeShortestEdge(480..800 step 32, max_size=1333, "choice"), or
 *          ResizeShortestEdge((400, 500, 600), "choice") -> RandomCrop("absolute_range", (384, 600))
 *            -> ResizeShortestEdge(480..800 step 32, max_size=1333, "choice");
 * test:  ResizeShortestEdge(800, max_size=1333).
 *
 * `scale` multiplies every default size (rounded), e.g. scale 0.2 gives short edges 96..160 step ~6,
 * max 267, pre-crop 80/100/120, crop 77..120: the same recipe for ~128 px images (the embedded dataset).
 */
import { register } from '@detr/registry';
import type { Transform } from '../sample';
import { RandomChoice } from './composition';
import { RandomCrop } from './random-crop';
import { RandomFlip } from './random-flip';
import { ResizeShortestEdge } from './resize-shortest-edge';

export const COCO_TRAIN_SHORT_EDGES = [480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800];
export const COCO_MAX_SIZE = 1333;
export const COCO_CROP_PRE_RESIZE = [400, 500, 600];
export const COCO_CROP_SIZE: [number, number] = [384, 600];
export const COCO_TEST_SHORT_EDGE = 800;

export interface DetrTrainTransformsOptions {
  /** shortest-edge choices of the final resize (both branches). Default 480..800 step 32 (times `scale`). */
  short_edge_length?: number[];
  /** cap on the longer edge. Default 1333 (times `scale`). */
  max_size?: number;
  /** shortest-edge choices before the crop. Default (400, 500, 600) (times `scale`). */
  crop_pre_resize?: number[];
  /** absolute_range crop size [min, max]. Default (384, 600) (times `scale`). */
  crop_size?: [number, number];
  /** multiplies every default above (not explicit values). Default 1. */
  scale?: number;
  /** flip probability. Default 0.5. */
  flip_prob?: number;
}

function scaled(values: number[], scale: number): number[] {
  return [...new Set(values.map((v) => Math.max(1, Math.round(v * scale))))];
}

/** The training transforms of coco_detr.py, as one list for the data loader. */
export function detrTrainTransforms(opts: DetrTrainTransformsOptions = {}): Transform[] {
  const s = opts.scale ?? 1;
  if (!(s > 0)) throw new Error(`detrTrainTransforms: scale must be positive, got ${opts.scale}`);
  const shortEdges = opts.short_edge_length ?? scaled(COCO_TRAIN_SHORT_EDGES, s);
  const maxSize = opts.max_size ?? Math.round(COCO_MAX_SIZE * s);
  const preCrop = opts.crop_pre_resize ?? scaled(COCO_CROP_PRE_RESIZE, s);
  const cropSize = opts.crop_size ?? (COCO_CROP_SIZE.map((v) => Math.max(1, Math.round(v * s))) as [number, number]);
  const finalResize = () => new ResizeShortestEdge({ short_edge_length: shortEdges, max_size: maxSize, sample_style: 'choice' });
  return [
    new RandomFlip({ prob: opts.flip_prob ?? 0.5 }),
    new RandomChoice([
      [finalResize()],
      [
        new ResizeShortestEdge({ short_edge_length: preCrop, sample_style: 'choice' }),
        new RandomCrop({ crop_type: 'absolute_range', crop_size: cropSize }),
        finalResize(),
      ],
    ]),
  ];
}

export interface DetrTestTransformsOptions {
  short?: number;
  max?: number;
  scale?: number;
}

/** The test transform of coco_detr.py: ResizeShortestEdge(short, max_size=max). Defaults 800 / 1333 (times `scale`). */
export function detrTestTransforms(opts: DetrTestTransformsOptions = {}): Transform[] {
  const s = opts.scale ?? 1;
  const short = opts.short ?? Math.round(COCO_TEST_SHORT_EDGE * s);
  const max = opts.max ?? Math.round(COCO_MAX_SIZE * s);
  return [new ResizeShortestEdge({ short_edge_length: short, max_size: max })];
}

register('transform', 'detr_train')(detrTrainTransforms);
register('transform', 'detr_test')(detrTestTransforms);
