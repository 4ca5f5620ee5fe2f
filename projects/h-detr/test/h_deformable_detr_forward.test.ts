// H-Deformable-DETR forward on the cpu backend (tiny model, 48x48 images): the training output dict,
// the wiring detrex defines (top-k by the class-0 logit, references from the detached top-k boxes,
// query_pos = first half of pos_trans_norm(pos_trans(proposal sine)), per-layer boxes from the reference
// entering the layer, the hybrid mask), that inference runs only the one-to-one queries and that they
// are the same queries as in training (the mask blocks every one2many -> one2one path), look-forward-
// twice, forwardTrain's weighting, predict's rescaling and no leaked tensors.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { inverseSigmoid, seedEverything } from '@detr/core';
import { expectClose, expectExact } from '@detr/core/testing';
import { disposeLosses } from '@detr/criteria';
import { topkDetections } from '@detr/engine';
import type { HDeformableDETR, HDeformableDETRTrace, HDetrBatch } from '../src/index';
import { TINY, buildTinyHDetr, tinyCriterion } from './tiny_model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const S = 48;

function makeBatch(): HDetrBatch {
  // Image 1 is 48x32 inside the 48x48 batch (right padding), originally 96x64.
  return {
    images: tf.randomNormal([2, S, S, 3], 0, 1, 'float32', 11) as tf.Tensor4D,
    masks: tf.tidy(() => tf.stack([tf.zeros([S, S], 'bool'), tf.range(0, S).reshape([1, S]).greaterEqual(32).tile([S, 1])]) as tf.Tensor3D),
    targets: [
      { labels: Int32Array.from([0, 2]), boxes: Float32Array.from([0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.4]) },
      { labels: Int32Array.from([1]), boxes: Float32Array.from([0.5, 0.5, 0.4, 0.3]) },
    ],
    imageSizes: [[S, S], [S, 32]],
    origSizes: [[S, S], [96, 64]],
  };
}

function disposeBatch(batch: HDetrBatch): void {
  tf.dispose([batch.images, batch.masks!]);
}

/** Random weights on every part after the backbone (detrex's zero inits hide paths; see the DINO tests). */
function randomiseHeads(model: HDeformableDETR, std = 0.2): void {
  let seed = 100;
  for (const [name, p] of model.namedParameters()) {
    if (!name.startsWith('backbone.')) tf.tidy(() => p.variable.assign(tf.randomNormal(p.shape, 0, std, 'float32', ++seed)));
  }
}

function disposeAll(x: unknown): void {
  const seen = new Set<tf.Tensor>();
  const visit = (v: unknown): void => {
    if (v instanceof tf.Tensor) seen.add(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(x);
  tf.dispose([...seen]);
}

describe('HDeformableDETR training forward', () => {
  it('returns detrex output keys and follows its two-stage wiring', () => {
    seedEverything(5);
    const model = buildTinyHDetr().train();
    randomiseHeads(model);
    const batch = makeBatch();
    const trace: HDeformableDETRTrace = {};
    const out = model.forward(batch, { trace });
    const q = TINY.q1 + TINY.q2;
    const tokens = 6 * 6 + 3 * 3; // res3 / res4 maps of a 48x48 image
    expect(out.pred_logits.shape).toEqual([2, TINY.q1, TINY.classes]);
    expect(out.pred_boxes.shape).toEqual([2, TINY.q1, 4]);
    expect(out.pred_logits_one2many!.shape).toEqual([2, TINY.q2, TINY.classes]);
    expect(out.pred_boxes_one2many!.shape).toEqual([2, TINY.q2, 4]);
    expect(out.aux_outputs!.map((a) => a.pred_logits.shape)).toEqual([[2, TINY.q1, TINY.classes]]);
    expect(out.aux_outputs_one2many!.map((a) => a.pred_boxes.shape)).toEqual([[2, TINY.q2, 4]]);
    expect(out.enc_outputs.pred_logits.shape).toEqual([2, tokens, TINY.classes]); // every encoder token
    expect(out.enc_outputs.pred_boxes.shape).toEqual([2, tokens, 4]);

    // The hybrid mask [Q, Q]: query i and key j blocked iff exactly one of them is one-to-one.
    const hand = Array.from({ length: q }, (_, i) => Array.from({ length: q }, (_, j) => Number((i < TINY.q1) !== (j < TINY.q1))));
    expect(trace.self_attn_mask!.arraySync()).toEqual(hand);

    // Top-k: the q tokens with the largest class-0 encoder logit, in descending order.
    const enc0 = tf.tidy(() => out.enc_outputs.pred_logits.slice([0, 0, 0], [2, tokens, 1]).reshape([2, tokens]).arraySync()) as number[][];
    const topk = trace.topk_proposals!.arraySync() as number[][];
    enc0.forEach((row, bi) => expect(topk[bi]).toEqual(row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, q).map(([, i]) => i)));
    // Their boxes: enc_outputs pred_boxes of those tokens; the decoder starts from sigmoid(coords).
    tf.tidy(() => {
      const gathered = tf.stack([0, 1].map((bi) => tf.gather(out.enc_outputs.pred_boxes.slice([bi, 0, 0], [1, tokens, 4]).reshape([tokens, 4]), trace.topk_proposals!.slice([bi, 0], [1, q]).reshape([q]))));
      expectClose(trace.init_reference!, gathered, 1e-5, 'init reference = selected encoder boxes');
      expectClose(tf.sigmoid(trace.topk_coords_unact!), gathered, 1e-5, 'topk coords');
      // query_pos: the first embed_dim channels of pos_trans_norm(pos_trans(get_proposal_pos_embed(coords))).
      const tr = model.transformer;
      const sine = tf.stack(
        (tf.sigmoid(trace.topk_coords_unact!).arraySync() as number[][][]).map((boxes) => boxes.map((box) => box.flatMap((p) => Array.from({ length: TINY.embed / 2 }, (_, i) => {
          const a = (p * 2 * Math.PI) / Math.pow(10000, (2 * Math.floor(i / 2)) / (TINY.embed / 2));
          return i % 2 === 0 ? Math.sin(a) : Math.cos(a);
        })))),
      );
      const pos = tr.pos_trans_norm.forward(tr.pos_trans.forward(sine));
      expectClose(trace.query_pos!, pos.slice([0, 0, 0], [2, q, TINY.embed]), 1e-4, 'query_pos');
      // Heads read the raw decoder states (no final LayerNorm): layer l's boxes are
      // sigmoid(bbox_embed[l](h_l) + inverse_sigmoid(reference entering layer l)), and with box refinement
      // the decoder's refined reference after layer 0 is exactly layer 0's box prediction.
      const one2one = (t: tf.Tensor) => t.slice([0, 0, 0], [2, TINY.q1, -1]);
      const [h0, h1] = trace.inter_states!;
      const box0 = tf.sigmoid(model.bbox_embed.at(0).forward(h0).add(inverseSigmoid(trace.init_reference!)));
      expectClose(out.aux_outputs![0].pred_boxes, one2one(box0), 1e-5, 'layer 0 boxes');
      expectClose(one2one(trace.inter_references![0]), out.aux_outputs![0].pred_boxes, 1e-5, 'refined reference = layer 0 boxes');
      const box1 = tf.sigmoid(model.bbox_embed.at(1).forward(h1).add(inverseSigmoid(trace.inter_references![0])));
      expectClose(out.pred_boxes, one2one(box1), 1e-5, 'layer 1 boxes');
      expectClose(out.pred_boxes_one2many!, box1.slice([0, TINY.q1, 0], [2, TINY.q2, 4]), 1e-5, 'layer 1 one2many boxes');
      expectClose(out.pred_logits, one2one(model.class_embed.at(1).forward(h1)), 1e-5, 'layer 1 logits');
      expect(trace.inter_references![0].sub(trace.init_reference!).abs().max().dataSync()[0]).toBeGreaterThan(1e-3); // refinement moved the boxes
    });
    disposeAll([out, trace]);
    disposeBatch(batch);
    model.dispose();
  });

  it('inference runs only the one-to-one queries, and they are the training one-to-one queries', () => {
    seedEverything(6);
    // eval_mask 'real' so eval and training see the same padding mask.
    const model = buildTinyHDetr({ eval_mask: 'real' });
    randomiseHeads(model);
    const batch = makeBatch();
    const train = model.forward(batch, { training: true });
    const evalOut = model.forward(batch, { training: false });
    expect(evalOut.pred_logits.shape).toEqual([2, TINY.q1, TINY.classes]);
    expect(evalOut.pred_logits_one2many).toBeUndefined();
    expect(evalOut.aux_outputs_one2many).toBeUndefined();
    // Eval selects the top q1 proposals = the first q1 of training's top q1+q2, with the same content
    // queries; the mask keeps the one-to-many queries out of their self-attention.
    expectClose(evalOut.pred_logits, train.pred_logits, 1e-5, 'eval vs training one-to-one logits');
    expectClose(evalOut.pred_boxes, train.pred_boxes, 1e-5, 'eval vs training one-to-one boxes');
    expectClose(evalOut.aux_outputs![0].pred_boxes, train.aux_outputs![0].pred_boxes, 1e-5, 'aux boxes');

    // Changing the one-to-many content queries changes the one-to-many outputs only.
    const w = model.query_embedding!.weight;
    tf.tidy(() => w.assign(tf.concat([w.slice([0, 0], [TINY.q1, -1]), tf.randomNormal([TINY.q2, TINY.embed], 0, 3, 'float32', 9)], 0)));
    const train2 = model.forward(batch, { training: true });
    const eval2 = model.forward(batch, { training: false });
    expectExact(eval2.pred_logits, evalOut.pred_logits, 'eval logits after changing one2many queries');
    expectClose(train2.pred_logits, train.pred_logits, 1e-6, 'training one2one logits after changing one2many queries');
    expect(tf.tidy(() => train2.pred_logits_one2many!.sub(train.pred_logits_one2many!).abs().max().dataSync()[0])).toBeGreaterThan(1e-3);
    // Without the mask the one-to-one outputs would move: the self-attention does mix the groups.
    const unmasked = model.transformer.forward;
    let bypassed = false;
    model.transformer.forward = (...args: Parameters<typeof unmasked>) => { bypassed = true; args[4] = null; return unmasked.apply(model.transformer, args); };
    const leaky = model.forward(batch, { training: true });
    model.transformer.forward = unmasked;
    expect(bypassed).toBe(true);
    expect(tf.tidy(() => leaky.pred_logits.sub(train2.pred_logits).abs().max().dataSync()[0])).toBeGreaterThan(1e-4);
    disposeAll([train, evalOut, train2, eval2, leaky]);
    disposeBatch(batch);
    model.dispose();
  });

  it('look-forward-twice: the final one-to-one boxes train bbox_embed[0] only with look_forward_twice', () => {
    const grad0 = (lft: boolean) => {
      seedEverything(9);
      const model = buildTinyHDetr({ look_forward_twice: lft, freeze_at: 5 }).eval();
      randomiseHeads(model);
      const batch = makeBatch();
      const vars = model.bbox_embed.at(0).namedParameters().map(([, p]) => p.variable);
      let total = 0;
      try {
        const { value, grads } = tf.variableGrads(() => model.forward(batch, { training: true }).pred_boxes.sum() as tf.Scalar, vars);
        total = tf.tidy(() => tf.addN(Object.values(grads).map((g) => g.abs().sum())).dataSync()[0]);
        tf.dispose([value, ...Object.values(grads)]);
      } catch (err) {
        // tfjs refuses when no listed variable is connected to the output: the gradient is zero.
        if (!/Cannot find a connection between any variable/.test((err as Error).message)) throw err;
      }
      model.dispose();
      disposeBatch(batch);
      return total;
    };
    expect(grad0(true)).toBeGreaterThan(0);
    expect(grad0(false)).toBe(0);
  });
});

describe('HDeformableDETR forwardTrain / predict', () => {
  it('forwardTrain = criterion losses x weight_dict with detrex _one2many weights; no leaked tensors', () => {
    seedEverything(7);
    const criterion = tinyCriterion();
    const model = buildTinyHDetr({ criterion });
    const batch = makeBatch();
    const before = tf.memory().numTensors;
    const losses = model.forwardTrain(batch);
    const keys = ['loss_class', 'loss_bbox', 'loss_giou'];
    const expectedKeys = keys.flatMap((k) => [k, `${k}_0`, `${k}_enc`, `${k}_one2many`, `${k}_0_one2many`]);
    expect(Object.keys(losses).sort()).toEqual(expectedKeys.sort());
    // The same outputs through the criterion by hand: raw * (2, 5, 2); _one2many keys reuse the base weights.
    seedEverything(7);
    const raw = tf.tidy(() => criterion.forward(model.forward(batch, { training: true }), batch.targets!));
    const weight = { loss_class: 2, loss_bbox: 5, loss_giou: 2 } as Record<string, number>;
    for (const k of expectedKeys) {
      const base = keys.find((b) => k.startsWith(b))!;
      expect(losses[k].dataSync()[0], k).toBeCloseTo(weight[base] * raw[k].dataSync()[0], 4);
      expect(Number.isFinite(losses[k].dataSync()[0]), k).toBe(true);
    }
    disposeLosses(losses);
    disposeLosses(raw);
    expect(tf.memory().numTensors).toBe(before);
    // A second step allocates nothing that outlives it either.
    disposeLosses(model.forwardTrain(batch));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => model.forwardTrain({ images: batch.images })).toThrow(/batch.targets is required/);
    disposeBatch(batch);
    model.dispose();
  });

  it('predict: top-k of the one-to-one outputs, rescaled to the original image size; no leaked tensors', () => {
    seedEverything(8);
    const model = buildTinyHDetr().eval();
    randomiseHeads(model, 0.3);
    const batch = makeBatch();
    const before = tf.memory().numTensors;
    const dets = model.predict(batch);
    expect(tf.memory().numTensors).toBe(before);
    const out = model.forward(batch);
    const ref = topkDetections(out.pred_logits, out.pred_boxes, 10, batch.imageSizes!, batch.origSizes!);
    expect(dets.length).toBe(2);
    dets.forEach((d, bi) => {
      expectExact(d.scores, ref[bi].scores, `scores ${bi}`);
      expectExact(d.boxes, ref[bi].boxes, `boxes ${bi}`);
      expect(Array.from(d.queryIndex).every((q) => q < TINY.q1)).toBe(true);
    });
    // Image 1: boxes relative to its 48x32 (h x w) unpadded input, reported in its 96x64 original pixels.
    const [, , boxes] = [0, 0, tf.tidy(() => out.pred_boxes.slice([1, 0, 0], [1, -1, -1]).reshape([-1, 4]).arraySync() as number[][])];
    const d1 = dets[1];
    for (let j = 0; j < d1.scores.length; j++) {
      const [cx, cy, w, h] = boxes[d1.queryIndex[j]];
      const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
      const expected = [clip((cx - w / 2) * 64, 64), clip((cy - h / 2) * 96, 96), clip((cx + w / 2) * 64, 64), clip((cy + h / 2) * 96, 96)];
      expectClose(d1.boxes.subarray(4 * j, 4 * j + 4), expected, 1e-5, `image 1 detection ${j}`);
    }
    expect(() => model.predict({ images: batch.images })).toThrow(/batch.imageSizes is required/);
    disposeAll(out);
    disposeBatch(batch);
    model.dispose();
  });
});
