/**
 * detectron2's ShapeSpec (`detectron2/layers/shape_spec.py`): what a backbone tells its neck about one
 * output feature map. Feature maps here are NHWC tensors keyed by name ('res2'..'res5').
 */
import type * as tf from '@tensorflow/tfjs';

export interface ShapeSpec {
  /** Number of channels (the C of NHWC). */
  channels: number;
  /** Total stride relative to the input image (4 for res2, 32 for res5, 16 for res5 with DC5). */
  stride?: number;
}

/** Named NHWC feature maps, as a detectron2 backbone's `forward` returns them. */
export type FeatureMaps = Record<string, tf.Tensor4D>;
