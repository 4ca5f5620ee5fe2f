// topkDetections (detrex DINO / DAB / HDeformableDETR.inference + detectron2 detector_postprocess) on hand-made outputs.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose } from '@detr/core/testing';
import { detectionsFromOutputs, topkDetections } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('topkDetections', () => {
  it('top-k over Q x C, xyxy scaled by the input size, rescaled to the original size, clipped, empties dropped', () => {
    // Q = 3 queries, C = 2 classes; input image 10x20 (h, w), original 20x40 (scale 2).
    const logits = tf.tensor([[[2, -1], [0.5, 3], [1, -2]]]);
    const boxes = tf.tensor([[[0.5, 0.5, 0.2, 0.4], [0.95, 0.5, 0.2, 0.2], [0.5, 0.5, 0.0, 0.5]]]);
    const [det] = topkDetections(logits, boxes, 4, [[10, 20]], [[20, 40]]);
    // Scores sorted: q1c1 (logit 3), q0c0 (2), q2c0 (1), q1c0 (0.5); q2 has zero width -> dropped.
    expect(Array.from(det.queryIndex)).toEqual([1, 0, 1]);
    expect(Array.from(det.labels)).toEqual([1, 0, 0]);
    expectClose(det.scores, [3, 2, 0.5].map((x) => 1 / (1 + Math.exp(-x))), 1e-6, 'scores');
    // q1: x 0.85..1.05 of w 20 -> 17..21 px -> x2 rescaled 34..42 -> clipped to 40; y 0.4..0.6 of h 10 -> 4..6 -> 8..12.
    // q0: x 0.4..0.6 -> 8..12 -> 16..24; y 0.3..0.7 -> 3..7 -> 6..14.
    expectClose(det.boxes, [34, 8, 40, 12, 16, 6, 24, 14, 34, 8, 40, 12], 1e-6, 'boxes');
    // Without original sizes the boxes stay in input pixels.
    const [same] = topkDetections(logits, boxes, 2, [[10, 20]]);
    expectClose(same.boxes, [17, 4, 20, 6, 8, 3, 12, 7], 1e-6, 'boxes without rescale');
    tf.dispose([logits, boxes]);
  });

  it('rejects bad sizes and k with the field named', () => {
    tf.tidy(() => {
      const l = tf.zeros([1, 3, 2]);
      const b = tf.fill([1, 3, 4], 0.5);
      expect(() => topkDetections(l, b, 7, [[10, 20]])).toThrow(/select_box_nums_for_evaluation 7 must be in 1..6/);
      expect(() => topkDetections(l, b, 2, [[10, 20], [5, 5]])).toThrow(/2 image sizes for a batch of 1/);
      expect(() => topkDetections(l, b, 2, [[10, 0]])).toThrow(/image size of image 0 must be a positive \[h, w\]/);
      expect(() => topkDetections(l, tf.zeros([1, 2, 4]), 2, [[10, 20]])).toThrow(/must be \[B,Q,C\] and \[B,Q,4\]/);
    });
  });
});

describe('detectionsFromOutputs', () => {
  it('caps k at queries x classes, takes the final layer and disposes every output tensor (aux layers too)', () => {
    const before = tf.memory().numTensors;
    const outputs = {
      pred_logits: tf.tensor([[[2, -1], [0.5, 3]]]), // Q = 2, C = 2
      pred_boxes: tf.tensor([[[0.5, 0.5, 0.2, 0.4], [0.25, 0.5, 0.2, 0.2]]]),
      aux_outputs: [{ pred_logits: tf.zeros([1, 2, 2]), pred_boxes: tf.zeros([1, 2, 4]) }],
    };
    const [det] = detectionsFromOutputs(outputs, 100, { imageSizes: [[10, 20]] });
    expect(Array.from(det.queryIndex)).toEqual([1, 0, 1, 0]); // k = min(100, 2 x 2)
    expect(Array.from(det.labels)).toEqual([1, 0, 0, 1]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
