// The per-output losses on hand-made pairs against float64 references: the dense row-mask path, the
// gather path (a query matched twice), and a batch without GT (zero losses, zero box gradients).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPredictions, splitTargets } from '@detr/matchers';
import { computeOutputLosses, SigmoidFocalLoss } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const B = 1, Q = 3, C = 2;
const BOXES = Float32Array.from([0.3, 0.3, 0.2, 0.2, 0.6, 0.5, 0.3, 0.2, 0.5, 0.5, 0.9, 0.9]);
const TARGETS = splitTargets([2], [1, 0], [0.32, 0.28, 0.22, 0.18, 0.58, 0.55, 0.25, 0.2]);

function giou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ax = [a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2];
  const bx = [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2];
  const inter = Math.max(Math.min(ax[2], bx[2]) - Math.max(ax[0], bx[0]), 0) * Math.max(Math.min(ax[3], bx[3]) - Math.max(ax[1], bx[1]), 0);
  const union = (ax[2] - ax[0]) * (ax[3] - ax[1]) + (bx[2] - bx[0]) * (bx[3] - bx[1]) - inter;
  const e = (Math.max(ax[2], bx[2]) - Math.min(ax[0], bx[0])) * (Math.max(ax[3], bx[3]) - Math.min(ax[1], bx[1]));
  return inter / (union + 1e-6) - (e - union) / (e + 1e-6);
}

function run(src: number[], tgt: number[], rankWeights: Float32Array | null, numBoxes: number) {
  const out = { pred_logits: tf.zeros([B, Q, C]), pred_boxes: tf.tensor3d(BOXES, [B, Q, 4]) };
  const pred = readPredictions(out, 'test');
  const matches = [{ src: Int32Array.from(src), tgt: Int32Array.from(tgt) }];
  const args = { pred, targets: TARGETS, matches, numBoxes, classLoss: new SigmoidFocalLoss({}), rankWeights };
  const values = tf.tidy(() => {
    const l = computeOutputLosses({ ...args, output: out });
    return [l.loss_bbox.dataSync()[0], l.loss_giou.dataSync()[0]];
  });
  const grad = tf.grad((b: tf.Tensor) => {
    const l = computeOutputLosses({ ...args, output: { pred_logits: out.pred_logits, pred_boxes: b } });
    return tf.add(l.loss_bbox, l.loss_giou) as tf.Scalar;
  })(out.pred_boxes);
  const g = Array.from(grad.dataSync());
  tf.dispose([out.pred_logits, out.pred_boxes, grad]);
  return { values, grad: g };
}

function reference(pairs: [number, number, number][], numBoxes: number): [number, number] {
  let l1 = 0, g = 0;
  for (const [q, j, w] of pairs) {
    const box = BOXES.subarray(4 * q, 4 * q + 4);
    const gt = TARGETS[0].boxes.subarray(4 * j, 4 * j + 4);
    for (let k = 0; k < 4; k++) l1 += w * Math.abs(box[k] - gt[k]);
    g += w * (1 - giou(box, gt));
  }
  return [l1 / numBoxes, g / numBoxes];
}

describe('computeOutputLosses box terms', () => {
  it('dense row masks: rank-weighted L1 and GIoU over the matched rows only', () => {
    // queries 2, 0 for GT 0 (ranks by IoU: 0 is far better), query 1 for GT 1; w_prime = [1, 0.25].
    const { values, grad } = run([0, 2, 1], [0, 0, 1], Float32Array.from([1, 0.25]), 2);
    const [l1, g] = reference([[0, 0, 1], [2, 0, 0.25], [1, 1, 1]], 2);
    expect(values[0]).toBeCloseTo(l1, 6);
    expect(values[1]).toBeCloseTo(g, 6);
    expect(grad.some((v) => v !== 0)).toBe(true);
  });

  it('a query matched twice falls back to one row per pair', () => {
    const { values } = run([1, 1], [0, 1], null, 2);
    const [l1, g] = reference([[1, 0, 1], [1, 1, 1]], 2);
    expect(values[0]).toBeCloseTo(l1, 6);
    expect(values[1]).toBeCloseTo(g, 6);
  });

  it('no matched pair: zero box losses with zero (not missing) gradients', () => {
    const { values, grad } = run([], [], null, 1);
    expect(values).toEqual([0, 0]);
    expect(grad).toEqual(new Array(12).fill(0));
  });
});
