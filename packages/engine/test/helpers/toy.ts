/**
 * A small real detector and a seeded synthetic data stream for engine tests: a conv + GroupNorm
 * feature extractor and linear heads predicting Q boxes and class logits, trained with a focal-free
 * BCE on query 0 and L1 on its box. Real tfjs ops and gradients; nothing is mocked.
 */
import * as tf from '@tensorflow/tfjs';
import { Conv2d, GroupNorm, Linear, Module, Rng, type RngState } from '@detr/core';
import type { Batch, Detections, TrainableDetector, TrainLoader } from '../../src/index';

export class ToyDetector extends Module implements TrainableDetector {
  readonly conv: Conv2d;
  readonly norm: GroupNorm;
  readonly head: Linear;
  /** Make loss_bbox NaN on the n-th training forward (to test the non-finite stop). */
  nanAtCall = -1;
  private calls = 0;

  constructor(readonly numQueries = 4, readonly numClasses = 3) {
    super();
    this.conv = this.registerModule('backbone', new Conv2d(3, 8, 3, { stride: 2, padding: 1 }));
    this.norm = this.registerModule('norm', new GroupNorm(4, 8));
    this.head = this.registerModule('head', new Linear(8, numQueries * (numClasses + 4)));
  }

  private heads(images: tf.Tensor4D): { logits: tf.Tensor3D; boxes: tf.Tensor3D } {
    const f = tf.relu(this.norm.forward(this.conv.forward(images))).mean([1, 2]); // [B, 8]
    const out = this.head.forward(f).reshape([images.shape[0], this.numQueries, this.numClasses + 4]);
    const logits = out.slice([0, 0, 0], [-1, -1, this.numClasses]) as tf.Tensor3D;
    const boxes = tf.sigmoid(out.slice([0, 0, this.numClasses], [-1, -1, 4])) as tf.Tensor3D;
    return { logits, boxes };
  }

  forwardTrain(batch: Batch): Record<string, tf.Scalar> {
    const call = this.calls++;
    const { logits, boxes } = this.heads(batch.images);
    const B = batch.targets.length;
    const onehot = tf.buffer([B, this.numClasses]);
    const gtBoxes = tf.buffer([B, 4]);
    batch.targets.forEach((t, b) => {
      onehot.set(1, b, t.labels[0]);
      for (let k = 0; k < 4; k++) gtBoxes.set(t.boxes[k], b, k);
    });
    const q0Logits = logits.slice([0, 0, 0], [-1, 1, -1]).reshape([B, this.numClasses]);
    const q0Boxes = boxes.slice([0, 0, 0], [-1, 1, -1]).reshape([B, 4]);
    const lossClass = tf.losses.sigmoidCrossEntropy(onehot.toTensor(), q0Logits) as tf.Scalar;
    let lossBbox = tf.abs(q0Boxes.sub(gtBoxes.toTensor())).sum().div(B) as tf.Scalar;
    if (call === this.nanAtCall) lossBbox = lossBbox.mul(NaN) as tf.Scalar;
    return { loss_class: lossClass, loss_bbox: lossBbox.mul(5) as tf.Scalar };
  }

  predict(batch: Batch): Detections[] {
    const { logits, boxes } = this.heads(batch.images);
    const s = tf.sigmoid(logits).arraySync() as number[][][];
    const bx = boxes.arraySync() as number[][][];
    return s.map((qs, b) => {
      const [h, w] = batch.origSizes[b];
      const scores: number[] = [], labels: number[] = [], out: number[] = [];
      qs.forEach((cls, q) => {
        const c = cls.indexOf(Math.max(...cls));
        const [cx, cy, bw, bh] = bx[b][q];
        scores.push(cls[c]);
        labels.push(c);
        out.push((cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h);
      });
      return { scores: Float32Array.from(scores), labels: Int32Array.from(labels), boxes: Float32Array.from(out) };
    });
  }
}

/** An endless seeded stream of random images with one box each; its state makes resume exact. */
export class SyntheticLoader implements TrainLoader {
  private rng: Rng;
  constructor(seed: number, readonly batchSize = 2, readonly size = 16, readonly numClasses = 3) {
    this.rng = new Rng(seed);
  }

  next(): Batch {
    const { size, batchSize: B } = this;
    const images = tf.tensor4d(this.rng.normalArray(B * size * size * 3), [B, size, size, 3]);
    const targets = Array.from({ length: B }, () => {
      const w = this.rng.uniform(0.1, 0.5), h = this.rng.uniform(0.1, 0.5);
      return {
        labels: Int32Array.from([this.rng.int(0, this.numClasses)]),
        boxes: Float32Array.from([this.rng.uniform(w / 2, 1 - w / 2), this.rng.uniform(h / 2, 1 - h / 2), w, h]),
      };
    });
    return {
      images,
      masks: tf.zeros([B, size, size], 'bool') as tf.Tensor3D,
      targets,
      imageIds: targets.map((_, i) => i + 1),
      imageSizes: targets.map(() => [size, size] as [number, number]),
      origSizes: targets.map(() => [size, size] as [number, number]),
    };
  }

  getState(): RngState {
    return this.rng.getState();
  }

  setState(state: unknown): void {
    this.rng = Rng.fromState(state as RngState);
  }
}
