// DINO in training mode on a tiny model (cpu backend): CDN queries in front of the matching queries and
// split off again (dn_outputs, dn_meta), the real padding mask, gradients to every trainable part,
// detrex's detach / look-forward-twice semantics, losses() with a criterion, no leaked tensors, and
// the post-processing (rescale, clip, empty boxes dropped) on hand-made outputs.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedEverything } from '@detr/core';
import { DINOCriterion, SigmoidFocalLoss, expandWeightDict, sumLosses } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { expectClose, expectSameLossAndGradients, lossAndGradients } from '@detr/core/testing';
import { dinoInference, type DINO, type DetectorBatch } from '../src/index';
import { buildTinyDino } from './tiny_model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function makeBatch(): DetectorBatch {
  // Image 1 is 64x48 inside the 64x64 batch (right padding).
  const masks = tf.tidy(() => tf.stack([tf.zeros([64, 64], 'bool'), tf.range(0, 64).reshape([1, 64]).greaterEqual(48).tile([64, 1])]) as tf.Tensor3D);
  return {
    images: tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 11) as tf.Tensor4D,
    masks,
    targets: [
      { labels: Int32Array.from([0, 2]), boxes: Float32Array.from([0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.4]) },
      { labels: Int32Array.from([1]), boxes: Float32Array.from([0.5, 0.5, 0.4, 0.3]) },
    ],
    imageSizes: [[64, 64], [64, 48]],
  };
}

/** Variables of the parts after the backbone (the backbone stand-in is not what is tested here). */
function headVars(model: DINO) {
  return model.namedParameters().filter(([n]) => !n.startsWith('backbone.'));
}

describe('DINO training forward (tiny model)', () => {
  it('puts CDN queries in front and splits them into dn_outputs; gradients reach every part', () => {
    seedEverything(5);
    const model = buildTinyDino().train();
    const batch = makeBatch();
    const before = tf.memory().numTensors;
    const out = model.forward(batch);
    // n_max = 2 -> groups = 2*4 // 4 = 2, single_padding 4, pad 8.
    expect(out.dn_meta).toEqual({ single_padding: 4, dn_num: 2 });
    expect(out.pred_logits.shape).toEqual([2, 10, 3]);
    expect(out.pred_boxes.shape).toEqual([2, 10, 4]);
    expect(out.dn_outputs!.pred_logits.shape).toEqual([2, 8, 3]);
    expect(out.dn_outputs!.aux_outputs!.length).toBe(1);
    expect(out.aux_outputs!.length).toBe(1);
    expect(out.enc_outputs!.pred_logits.shape).toEqual([2, 10, 3]);
    tf.dispose(out as unknown as tf.TensorContainer);
    expect(tf.memory().numTensors).toBe(before);

    // detrex's init zeroes the last box layer and the offset / attention-weight projections, which
    // blocks some gradients at step 0; random weights make every path visible.
    const vars = headVars(model);
    let k = 0;
    for (const [, p] of vars) tf.tidy(() => p.variable.assign(tf.randomNormal(p.shape, 0, 0.2, 'float32', ++k)));
    const { value, grads } = tf.variableGrads(() => {
      const o = model.forward(batch);
      const all = [o.pred_logits, o.pred_boxes, o.enc_outputs!.pred_logits, o.enc_outputs!.pred_boxes, o.dn_outputs!.pred_logits, o.dn_outputs!.pred_boxes,
        ...o.aux_outputs!.flatMap((a) => [a.pred_logits, a.pred_boxes]), ...o.dn_outputs!.aux_outputs!.flatMap((a) => [a.pred_logits, a.pred_boxes])];
      return tf.addN(all.map((t) => t.square().sum())) as tf.Scalar;
    }, vars.map(([, p]) => p.variable));
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const noGrad = vars.filter(([, p]) => !grads[p.variable.name] || tf.tidy(() => grads[p.variable.name].abs().sum().dataSync()[0]) === 0).map(([n]) => n);
    // Every part after the backbone is trained, label_enc through the DN queries included.
    expect(noGrad).toEqual([]);
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
    tf.dispose(batch as unknown as tf.TensorContainer);
  });

  it('detach and look-forward-twice: the final boxes train bbox_embed[0] only with look_forward_twice', () => {
    const grad0 = (lft: boolean, output: 'pred_boxes' | 'pred_logits') => {
      seedEverything(9);
      const model = buildTinyDino({ look_forward_twice: lft, dn_number: 0 }).eval();
      const batch = makeBatch();
      // A non-zero last box layer so the references move and the path exists.
      tf.tidy(() => model.bbox_embed.at(0).layers.at(-1).getParameter('weight').assign(tf.randomNormal([32, 4], 0, 0.1, 'float32', 2)));
      const vars = model.bbox_embed.at(0).namedParameters().map(([, p]) => p.variable);
      let total = 0;
      try {
        const { value, grads } = tf.variableGrads(() => model.forward(batch)[output].sum() as tf.Scalar, vars);
        total = tf.tidy(() => tf.addN(Object.values(grads).map((g) => g.abs().sum())).dataSync()[0]);
        tf.dispose([value, ...Object.values(grads)]);
      } catch (err) {
        // tfjs refuses when no listed variable is connected to the output: the gradient is zero.
        if (!/Cannot find a connection between any variable/.test((err as Error).message)) throw err;
      }
      model.dispose();
      tf.dispose(batch as unknown as tf.TensorContainer);
      return total;
    };
    expect(grad0(true, 'pred_boxes')).toBeGreaterThan(0);
    expect(grad0(false, 'pred_boxes')).toBe(0);
    expect(grad0(true, 'pred_logits')).toBe(0);
  });

  it('eval uses an all-zero mask by default and the real one with eval_mask "real"', () => {
    seedEverything(3);
    const model = buildTinyDino().eval();
    const batch = makeBatch();
    const a = model.forward(batch);
    const b = model.forward({ ...batch, masks: undefined });
    expectClose(a.pred_logits, b.pred_logits, 0, 'mask ignored in eval');
    (model as unknown as { evalMask: string }).evalMask = 'real';
    const c = model.forward(batch);
    expect(tf.tidy(() => c.pred_logits.sub(a.pred_logits).abs().max().dataSync()[0])).toBeGreaterThan(0);
    expect(a.dn_outputs).toBeUndefined();
    model.dispose();
  });

  it('losses(): the criterion sees the training outputs and its weight_dict scales the keys it names', () => {
    seedEverything(4);
    const seen: string[] = [];
    const criterion = {
      weight_dict: { loss_a: 2 },
      forward: (o: Parameters<DINO['forward']>[0] extends never ? never : ReturnType<DINO['forward']>) => {
        seen.push(...Object.keys(o));
        return { loss_a: o.pred_boxes.sum() as tf.Scalar, loss_b: o.dn_outputs!.pred_boxes.sum() as tf.Scalar };
      },
    };
    const model = buildTinyDino({ criterion }).eval(); // losses() runs in training mode regardless
    const batch = makeBatch();
    const losses = model.losses(batch);
    const out = model.forward(batch, { training: true });
    expect(seen).toEqual(expect.arrayContaining(['pred_logits', 'pred_boxes', 'aux_outputs', 'enc_outputs', 'dn_outputs', 'dn_meta']));
    expect(Object.keys(losses).sort()).toEqual(['loss_a', 'loss_b']);
    expect(losses.loss_a.dataSync()[0] / 2).toBeCloseTo(out.pred_boxes.sum().dataSync()[0], 3);
    model.dispose();
  });
});

describe('DINO with the DINO criterion (@detr/criteria)', () => {
  it("produces detrex's loss keys and a few Adam steps lower the weighted total", () => {
    seedEverything(6);
    const criterion = new DINOCriterion({
      num_classes: 3,
      matcher: new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }),
      class_loss: new SigmoidFocalLoss({ alpha: 0.25, gamma: 2 }),
      weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 1, enc: true, dn: true }),
    });
    const model = buildTinyDino({ criterion }).train();
    const batch = makeBatch();
    const keys = Object.keys(tf.tidy(() => model.losses(batch) as unknown as tf.TensorContainer) as Record<string, tf.Tensor>).sort();
    expect(keys).toEqual(Object.keys(criterion.weight_dict).sort());
    const opt = tf.train.adam(1e-3);
    const vars = model.trainableVariables().map((v) => v.variable);
    const totals: number[] = [];
    for (let step = 0; step < 6; step++) {
      const cost = opt.minimize(() => sumLosses(model.losses(batch)), true, vars)!;
      totals.push(cost.dataSync()[0]);
      cost.dispose();
    }
    expect(totals.every(Number.isFinite)).toBe(true);
    expect(totals[totals.length - 1]).toBeLessThan(totals[0]);
    opt.dispose();
    model.dispose();
  });
});

describe('activation_checkpoint (encoder and decoder layers recomputed in the backward pass)', () => {
  it('gives the same losses and the same gradient for every trainable tensor', () => {
    const criterion = () =>
      new DINOCriterion({
        num_classes: 3,
        matcher: new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }),
        class_loss: new SigmoidFocalLoss({ alpha: 0.25, gamma: 2 }),
        weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 1, enc: true, dn: true }),
      });
    const batch = makeBatch();
    const run = (ckpt: boolean) => {
      seedEverything(8); // same weights
      const model = buildTinyDino({ criterion: criterion(), activation_checkpoint: ckpt }).train();
      const vars = model.trainableVariables();
      seedEverything(9); // same denoising noise
      const out = lossAndGradients(vars, () => sumLosses(model.losses(batch)));
      model.dispose();
      return out;
    };
    const plain = run(false);
    const ckpt = run(true);
    const compared = expectSameLossAndGradients(plain, ckpt, { lossDigits: 4, rtol: 2e-4 });
    expect(compared).toBeGreaterThan(50);
  });
});

describe('dinoInference (detrex inference + detector_postprocess)', () => {
  it('top-k over Q x C, xyxy scaled to the input size, rescaled to the original size, clipped, empties dropped', () => {
    // Q = 3 queries, C = 2 classes; image 10x20 (h, w), original 20x40 (scale 2).
    const logits = tf.tensor([[[2, -1], [0.5, 3], [1, -2]]]);
    const boxes = tf.tensor([[[0.5, 0.5, 0.2, 0.4], [0.95, 0.5, 0.2, 0.2], [0.5, 0.5, 0.0, 0.5]]]);
    const [det] = dinoInference(logits, boxes, 4, [[10, 20]], [[20, 40]]);
    // Scores sorted: q1c1 (flat 3, logit 3), q0c0 (0, 2), q2c0 (4, 1), q1c0 (2, 0.5); q2 has zero width -> dropped.
    expect(Array.from(det.topkIndex)).toEqual([3, 0, 2]);
    expect(Array.from(det.labels)).toEqual([1, 0, 0]);
    expectClose(det.scores, [3, 2, 0.5].map((x) => 1 / (1 + Math.exp(-x))), 1e-6, 'scores');
    // q1: cx .95 w .2 -> x 0.85..1.05 -> pixels 34..42 -> clipped to 40; y 0.4..0.6 -> 8..12.
    expectClose(det.boxes, [34, 8, 40, 12, 16, 6, 24, 14, 34, 8, 40, 12], 1e-6, 'boxes');
    expect(() => dinoInference(logits, boxes, 7, [[10, 20]])).toThrow(/must be in 1..6/);
  });
});
