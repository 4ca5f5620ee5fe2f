/** What the engine needs from a detector, a batch and a data loader. */
import type * as tf from '@tensorflow/tfjs';
import type { Module } from '@detr/core';

/** A padded batch (the shape @detr/datasets' `collate` produces). */
export interface Batch {
  /** [B, H, W, 3] normalised images, zero-padded bottom/right. */
  images: tf.Tensor4D;
  /** [B, H, W] bool, true = padding. */
  masks: tf.Tensor3D;
  /** Per image: labels 0..C-1 and boxes as normalised cxcywh (n*4). */
  targets: { labels: Int32Array; boxes: Float32Array }[];
  imageIds: number[];
  /** [h, w] of each image after transforms, before padding. */
  imageSizes: [number, number][];
  /** [h, w] of each image as stored. */
  origSizes: [number, number][];
}

/** Detections of one image: boxes are xyxy pixels of the original image. */
export interface Detections {
  scores: Float32Array;
  labels: Int32Array;
  boxes: Float32Array;
}

/**
 * A detector the trainer can train and evaluate. As in detrex, the training forward returns the loss
 * dict already multiplied by the criterion's weight_dict; the trainer sums it.
 */
export interface TrainableDetector extends Module {
  forwardTrain(batch: Batch): Record<string, tf.Scalar>;
  predict(batch: Batch): Detections[];
}

export function isTrainableDetector(m: unknown): m is TrainableDetector {
  return typeof (m as TrainableDetector)?.forwardTrain === 'function' && typeof (m as TrainableDetector)?.predict === 'function';
}

/** An endless training stream with resumable state. */
export interface TrainLoader {
  next(): Batch;
  getState(): unknown;
  setState(state: unknown): void;
}

/** One ordered pass over an evaluation set, plus what COCO evaluation needs from its dataset. */
export interface EvalLoader {
  epoch(): Generator<Batch>;
  dataset: {
    annFile: string;
    labelToCategoryId(label: number): number;
    length: number;
  };
}

export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.masks.dispose();
}
