// DINO's denoising branch and H-DETR's hybrid branch on synthetic outputs, against float64 references
// computed here from detrex's formulas (fixed DN indices, normaliser num_boxes * dn_num; repeated
// targets with num_boxes = k * GT; class-agnostic encoder targets).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HungarianMatcher, splitTargets, type DetectionTarget, type ImageMatch } from '@detr/matchers';
import { DINOCriterion, expandWeightDict, HybridCriterion, SigmoidFocalLoss } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const C = 3;
const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** detrex focal elementwise, alpha 0.25, gamma 2, float64. */
function focal(x: number, y: number): number {
  const p = sig(x);
  const ce = -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
  const pt = p * y + (1 - p) * (1 - y);
  return (0.25 * y + 0.75 * (1 - y)) * ce * (1 - pt) ** 2;
}

function giou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ax = [a[0] - a[2] / 2, a[1] - a[3] / 2, a[0] + a[2] / 2, a[1] + a[3] / 2];
  const bx = [b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2];
  const inter = Math.max(Math.min(ax[2], bx[2]) - Math.max(ax[0], bx[0]), 0) * Math.max(Math.min(ax[3], bx[3]) - Math.max(ax[1], bx[1]), 0);
  const union = (ax[2] - ax[0]) * (ax[3] - ax[1]) + (bx[2] - bx[0]) * (bx[3] - bx[1]) - inter;
  const enclosing = (Math.max(ax[2], bx[2]) - Math.min(ax[0], bx[0])) * (Math.max(ax[3], bx[3]) - Math.min(ax[1], bx[1]));
  const iou = inter / (union + 1e-6);
  return iou - (enclosing - union) / (enclosing + 1e-6);
}

/** Deterministic pseudo-random values in [lo, hi). */
function values(n: number, seed: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => lo + (hi - lo) * (0.5 + 0.5 * Math.sin(12.9898 * (i + 1) * seed)));
}

const TARGETS: DetectionTarget[] = splitTargets([2, 1], [2, 0, 1], [0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.4, 0.5, 0.5, 0.4, 0.3]);
const gtBox = (b: number, j: number) => TARGETS[b].boxes.subarray(4 * j, 4 * j + 4);

/** Loss sums over outputs whose matched pairs are known: {pairs: [b, q, label, gtBox][]}. */
function referenceLosses(logits: Float32Array, boxes: Float32Array, Q: number, pairs: [number, number, number, ArrayLike<number>][], numBoxes: number) {
  const onehot = new Float64Array(logits.length);
  for (const [b, q, c] of pairs) onehot[(b * Q + q) * C + c] = 1;
  let cls = 0;
  for (let i = 0; i < logits.length; i++) cls += focal(logits[i], onehot[i]);
  let l1 = 0;
  let g = 0;
  for (const [b, q, , gt] of pairs) {
    const box = boxes.subarray(4 * (b * Q + q), 4 * (b * Q + q) + 4);
    for (let k = 0; k < 4; k++) l1 += Math.abs(box[k] - gt[k]);
    g += 1 - giou(box, gt);
  }
  return { loss_class: cls / numBoxes, loss_bbox: l1 / numBoxes, loss_giou: g / numBoxes };
}

describe('DINOCriterion denoising branch (focal)', () => {
  it('fixed DN pairs, negatives as background, normalised by num_boxes * dn_num; keys of every branch', () => {
    const B = 2, Q = 5, dnNum = 2, sp = 4, P = dnNum * sp;
    const crit = new DINOCriterion({
      num_classes: C,
      matcher: new HungarianMatcher({}),
      class_loss: new SigmoidFocalLoss({}),
      weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 1, enc: true, dn: true }),
    });
    const dnLogits = values(B * P * C, 3, -4, 4);
    const dnBoxes = values(B * P * 4, 5, 0.2, 0.6);
    const dnAuxBoxes = values(B * P * 4, 7, 0.2, 0.6);
    tf.tidy(() => {
      const out = () => ({ pred_logits: tf.tensor3d(values(B * Q * C, 11, -3, 3), [B, Q, C]), pred_boxes: tf.tensor3d(values(B * Q * 4, 13, 0.2, 0.6), [B, Q, 4]) });
      const outputs = {
        ...out(),
        aux_outputs: [out()],
        enc_outputs: out(),
        dn_outputs: {
          pred_logits: tf.tensor3d(dnLogits, [B, P, C]),
          pred_boxes: tf.tensor3d(dnBoxes, [B, P, 4]),
          aux_outputs: [{ pred_logits: tf.tensor3d(dnLogits, [B, P, C]), pred_boxes: tf.tensor3d(dnAuxBoxes, [B, P, 4]) }],
        },
        dn_meta: { dn_num: dnNum, single_padding: sp },
      };
      const losses = crit.forward(outputs, TARGETS);
      expect(Object.keys(losses).sort()).toEqual(Object.keys(crit.weight_dict).sort());
      const pairs: [number, number, number, ArrayLike<number>][] = [];
      TARGETS.forEach((t, b) => {
        for (let g = 0; g < dnNum; g++) for (let j = 0; j < t.labels.length; j++) pairs.push([b, g * sp + j, t.labels[j], gtBox(b, j)]);
      });
      const ref = referenceLosses(dnLogits, dnBoxes, P, pairs, 3 * dnNum);
      const refAux = referenceLosses(dnLogits, dnAuxBoxes, P, pairs, 3 * dnNum);
      for (const k of ['loss_class', 'loss_bbox', 'loss_giou'] as const) {
        expect(losses[`${k}_dn`].dataSync()[0]).toBeCloseTo(ref[k], 5);
        expect(losses[`${k}_dn_0`].dataSync()[0]).toBeCloseTo(refAux[k], 5);
      }
    });
  });
});

describe('HybridCriterion (H-DETR one-to-many branch)', () => {
  // One-to-many queries: two exact copies of each GT with a confident logit for its class, the rest
  // far away and unconfident, so the Hungarian matching of the repeated targets is unambiguous.
  const B = 2, Q2 = 8, K = 2;
  function one2many(): { logits: Float32Array; boxes: Float32Array; pairs: [number, number, number, ArrayLike<number>][] } {
    const logits = new Float32Array(B * Q2 * C).fill(-5);
    const boxes = new Float32Array(B * Q2 * 4);
    const pairs: [number, number, number, ArrayLike<number>][] = [];
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < Q2; q++) boxes.set([0.95, 0.95, 0.02, 0.02], 4 * (b * Q2 + q));
      TARGETS[b].labels.forEach((label, j) => {
        for (let r = 0; r < K; r++) {
          const q = 2 * j + r;
          boxes.set(gtBox(b, j), 4 * (b * Q2 + q));
          logits[(b * Q2 + q) * C + label] = 4;
          pairs.push([b, q, label, gtBox(b, j)]);
        }
      });
    }
    return { logits, boxes, pairs };
  }

  function run(lambda: number) {
    const crit = new HybridCriterion({
      num_classes: C,
      matcher: new HungarianMatcher({}),
      weight_dict: expandWeightDict({ loss_class: 2, loss_bbox: 5, loss_giou: 2 }, { num_aux: 1, enc: true, one2many: true }),
      k_one2many: K,
      lambda_one2many: lambda,
    });
    const m = one2many();
    // Encoder proposals: one exact copy of every GT, confident for class 0 only (class-agnostic).
    const encLogits = new Float32Array(B * 4 * C).fill(-5);
    const encBoxes = new Float32Array(B * 4 * 4).fill(0.9);
    const encPairs: [number, number, number, ArrayLike<number>][] = [];
    TARGETS.forEach((t, b) => t.labels.forEach((_, j) => {
      encBoxes.set(gtBox(b, j), 4 * (b * 4 + j));
      encLogits[(b * 4 + j) * C] = 4;
      encPairs.push([b, j, 0, gtBox(b, j)]);
    }));
    let result!: { values: Record<string, number>; indices: Record<string, ImageMatch[]> };
    tf.tidy(() => {
      const small = () => ({ pred_logits: tf.tensor3d(values(B * 3 * C, 17, -3, 3), [B, 3, C]), pred_boxes: tf.tensor3d(values(B * 3 * 4, 19, 0.2, 0.6), [B, 3, 4]) });
      const { losses, indices } = crit.computeLosses(
        {
          ...small(),
          aux_outputs: [small()],
          enc_outputs: { pred_logits: tf.tensor3d(encLogits, [B, 4, C]), pred_boxes: tf.tensor3d(encBoxes, [B, 4, 4]) },
          pred_logits_one2many: tf.tensor3d(m.logits, [B, Q2, C]),
          pred_boxes_one2many: tf.tensor3d(m.boxes, [B, Q2, 4]),
          aux_outputs_one2many: [{ pred_logits: tf.tensor3d(m.logits, [B, Q2, C]), pred_boxes: tf.tensor3d(m.boxes, [B, Q2, 4]) }],
        },
        TARGETS,
      );
      result = { values: Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, v.dataSync()[0]])), indices };
    });
    return { ...result, crit, ref: referenceLosses(m.logits, m.boxes, Q2, m.pairs, K * 3), encRef: referenceLosses(encLogits, encBoxes, 4, encPairs, 3) };
  }

  it('matches the targets repeated k times, normalises by k * GT, suffixes _one2many; encoder class-agnostic', () => {
    const { values: v, indices, crit, ref, encRef } = run(1);
    expect(Object.keys(v).sort()).toEqual(Object.keys(crit.weight_dict).sort());
    for (const k of ['loss_class', 'loss_bbox', 'loss_giou'] as const) {
      expect(v[`${k}_one2many`]).toBeCloseTo(ref[k], 5);
      expect(v[`${k}_0_one2many`]).toBeCloseTo(ref[k], 5);
      expect(v[`${k}_enc`]).toBeCloseTo(encRef[k], 5);
    }
    // Image 0 (2 GT, repeated twice): queries 0, 1 take copies of GT 0 (tgt 0 and 2), 2, 3 of GT 1.
    const m0 = indices.one2many[0];
    expect(Array.from(m0.src)).toEqual([0, 1, 2, 3]);
    expect(Array.from(m0.tgt, (j) => j % 2)).toEqual([0, 0, 1, 1]);
    expect(new Set(m0.tgt).size).toBe(4);
  });

  it('scales the one-to-many losses by lambda_one2many only', () => {
    const one = run(1).values;
    const half = run(0.5).values;
    expect(half.loss_class_one2many).toBeCloseTo(0.5 * one.loss_class_one2many, 6);
    expect(half.loss_giou_0_one2many).toBeCloseTo(0.5 * one.loss_giou_0_one2many, 6);
    expect(half.loss_class).toBe(one.loss_class);
  });

  it('rejects many-to-one settings and missing one-to-many outputs', () => {
    const base = { num_classes: C, matcher: new HungarianMatcher({}), weight_dict: {} };
    expect(() => new HybridCriterion({ ...base, match_num: [1, 1] })).toThrow(/match_num .* not part of H-DETR/);
    tf.tidy(() => {
      const out = { pred_logits: tf.zeros([2, 3, C]), pred_boxes: tf.fill([2, 3, 4], 0.5) };
      expect(() => new HybridCriterion(base).forward(out, TARGETS)).toThrow(/pred_logits_one2many and pred_boxes_one2many/);
    });
  });
});
