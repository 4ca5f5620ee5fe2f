/**
 * Input normalisation of detrex's detectors (`self.normalizer = lambda x: (x - pixel_mean) / pixel_std`):
 * images are RGB in 0..255 and detectron2's torchvision-converted ImageNet weights expect
 * mean [123.675, 116.28, 103.53] and std [58.395, 57.12, 57.375] (RGB order; /work/shared/UPSTREAM.md
 * section 6). Here images are NHWC, so mean/std broadcast over the last axis.
 */
import * as tf from '@tensorflow/tfjs';

export const DETECTRON2_PIXEL_MEAN: readonly number[] = [123.675, 116.28, 103.53];
export const DETECTRON2_PIXEL_STD: readonly number[] = [58.395, 57.12, 57.375];

export interface PixelNormalizerOptions {
  pixel_mean?: readonly number[];
  pixel_std?: readonly number[];
}

export class PixelNormalizer {
  readonly pixelMean: readonly number[];
  readonly pixelStd: readonly number[];

  constructor(opts: PixelNormalizerOptions = {}) {
    this.pixelMean = [...(opts.pixel_mean ?? DETECTRON2_PIXEL_MEAN)];
    this.pixelStd = [...(opts.pixel_std ?? DETECTRON2_PIXEL_STD)];
    if (this.pixelMean.length !== this.pixelStd.length || this.pixelMean.length === 0) {
      throw new Error(`PixelNormalizer: pixel_mean (${this.pixelMean.length} values) and pixel_std (${this.pixelStd.length}) must have the same non-zero length`);
    }
    this.pixelMean.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new Error(`PixelNormalizer: pixel_mean[${i}] is not a finite number (${v})`);
    });
    this.pixelStd.forEach((v, i) => {
      if (!(Number.isFinite(v) && v > 0)) throw new Error(`PixelNormalizer: pixel_std[${i}] must be a positive number, got ${v}`);
    });
  }

  /** images [B,H,W,C] or [H,W,C] in 0..255 -> (x - mean) / std, float32, same shape. */
  normalize<T extends tf.Tensor3D | tf.Tensor4D>(images: T): T {
    const c = this.pixelMean.length;
    if ((images.rank !== 3 && images.rank !== 4) || images.shape[images.rank - 1] !== c) {
      throw new Error(`PixelNormalizer.normalize: expected NHWC images [B, H, W, ${c}] or [H, W, ${c}], got [${images.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const x = images.dtype === 'float32' ? images : images.toFloat();
      return x.sub(tf.tensor1d(this.pixelMean as number[])).div(tf.tensor1d(this.pixelStd as number[])) as T;
    });
  }
}

/** `(images - mean) / std` with detectron2's RGB mean / std unless others are given. */
export function normalizeImage<T extends tf.Tensor3D | tf.Tensor4D>(images: T, opts: PixelNormalizerOptions = {}): T {
  return new PixelNormalizer(opts).normalize(images);
}
