// The IoU-branch detector of the paper's Table 4 rows (src/iou_branch_detr.ts), on wasm: its IoU loss
// against an independent float64 computation, the pred_ious it adds to every output (denoising split
// off in training, no tensors left behind), gradients into the IoU heads and the loss weight, and the
// inference score fusion p^(1-b) * IoU^b against a direct computation (b = 0: DINO's post-processing).
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEverything, selectBackend } from '@detr/core';
import { RTOL, expectClose, expectExact } from '@detr/core/testing';
import { dinoInference } from '@detr/dino';
import { applyOverrides, instantiate, loadConfigFile, resolveConfig } from '@detr/registry';
import { REPO_ROOT } from '../../../tools/cli_common';
import { IoUBranchDETR, iouLoss, type IoUBranchOutputs } from '../src/index';
import { R50_TEST_SHRINK, syntheticBatch } from './shrink';

let model: IoUBranchDETR;

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', threads: 1, log: () => {} });
  const file = join(REPO_ROOT, 'projects/align-detr/configs/ablations/table4_iou_branch.ts');
  const cfg = resolveConfig(applyOverrides(await loadConfigFile(file), R50_TEST_SHRINK)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  seedEverything(3);
  model = instantiate<IoUBranchDETR>(cfg.model);
}, 120_000);

afterAll(() => {
  model?.dispose();
  tf.removeBackend('wasm');
});

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
function iouCxcywh(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const box = (c: ArrayLike<number>) => [c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2];
  const [a1, b1] = [box(a), box(b)];
  const inter = Math.max(0, Math.min(a1[2], b1[2]) - Math.max(a1[0], b1[0])) * Math.max(0, Math.min(a1[3], b1[3]) - Math.max(a1[1], b1[1]));
  return inter / ((a1[2] - a1[0]) * (a1[3] - a1[1]) + (b1[2] - b1[0]) * (b1[3] - b1[1]) - inter + 1e-6);
}

describe('IoU loss', () => {
  it('is BCE(sigmoid(iou logit), IoU of the matched box) summed over matched queries / num_boxes', () => {
    const boxes = Float32Array.from({ length: 2 * 5 * 4 }, (_, i) => 0.25 + 0.5 * ((i * 0.37) % 1));
    const ious = Float32Array.from({ length: 10 }, (_, i) => Math.sin(i * 1.7) * 2);
    const targets = [
      { labels: Int32Array.from([0, 1]), boxes: Float32Array.from([0.4, 0.5, 0.3, 0.4, 0.6, 0.6, 0.5, 0.3]) },
      { labels: Int32Array.from([2]), boxes: Float32Array.from([0.5, 0.5, 0.4, 0.4]) },
    ];
    const matches = [{ src: Int32Array.from([1, 3]), tgt: Int32Array.from([0, 1]) }, { src: Int32Array.from([4]), tgt: Int32Array.from([0]) }];
    let expected = 0;
    matches.forEach(({ src, tgt }, b) => src.forEach((q, i) => {
      const y = iouCxcywh(boxes.subarray((b * 5 + q) * 4, (b * 5 + q) * 4 + 4), targets[b].boxes.subarray(tgt[i] * 4, tgt[i] * 4 + 4));
      const s = sigmoid(ious[b * 5 + q]);
      expected += -(y * Math.log(s) + (1 - y) * Math.log(1 - s));
    }));
    expected /= 3;
    const output = { pred_logits: tf.zeros([2, 5, 3]), pred_boxes: tf.tensor3d(boxes, [2, 5, 4]), pred_ious: tf.tensor3d(ious, [2, 5, 1]) };
    const loss = iouLoss(output, matches, targets, 3, 'test');
    expectClose(loss, [expected], RTOL.loss, 'loss_iou');
    tf.dispose([loss, output.pred_logits, output.pred_boxes, output.pred_ious]);
  });
});

describe('IoUBranchDETR', () => {
  it('adds pred_ious to the final, aux and denoising outputs and leaves no tensors behind', () => {
    const batch = syntheticBatch(model.numClasses);
    const before = tf.memory().numTensors;
    const evalOut = model.forward(batch, { training: false }) as IoUBranchOutputs;
    expect(evalOut.pred_ious.shape).toEqual([2, model.numQueries, 1]);
    expect(evalOut.aux_outputs!.map((a) => a.pred_ious.shape)).toEqual(Array(5).fill([2, model.numQueries, 1]));
    tf.dispose(evalOut as unknown as tf.TensorContainer);
    seedEverything(1);
    const trainOut = model.forward(batch, { training: true }) as IoUBranchOutputs;
    const pad = trainOut.dn_meta!.single_padding * trainOut.dn_meta!.dn_num;
    expect(trainOut.pred_ious.shape).toEqual([2, model.numQueries, 1]);
    expect((trainOut.dn_outputs as unknown as { pred_ious: tf.Tensor }).pred_ious.shape).toEqual([2, pad, 1]);
    tf.dispose(trainOut as unknown as tf.TensorContainer);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(batch as unknown as tf.TensorContainer);
  });

  it('trains the IoU heads through loss_iou (and its per-layer copies), scaled by iou_loss_weight', () => {
    const batch = syntheticBatch(model.numClasses);
    const iouVars = model.iou_embed.namedParameters().map(([, p]) => p.variable);
    seedEverything(2);
    const { value, grads } = tf.variableGrads(() => {
      const losses = model.forwardTrain(batch);
      expect(Object.keys(losses).filter((k) => k.startsWith('loss_iou')).sort()).toEqual(['loss_iou', 'loss_iou_0', 'loss_iou_1', 'loss_iou_2', 'loss_iou_3', 'loss_iou_4']);
      return tf.addN(Object.values(losses)) as tf.Scalar;
    }, iouVars);
    const norms = iouVars.map((v) => tf.tidy(() => grads[v.name].abs().sum().dataSync()[0]));
    expect(norms.every((n) => n > 0 && Number.isFinite(n))).toBe(true);
    tf.dispose([value, ...Object.values(grads)]);

    const lossesWith = (weight: number) => {
      Object.assign(model, { iouLossWeight: weight });
      seedEverything(4); // the same CDN noise for both
      const l = model.forwardTrain(batch);
      const out = Object.fromEntries(Object.entries(l).map(([k, v]) => [k, v.dataSync()[0]]));
      tf.dispose(Object.values(l));
      return out;
    };
    const one = lossesWith(1);
    const two = lossesWith(2);
    Object.assign(model, { iouLossWeight: 1 });
    for (const k of Object.keys(one)) expect(two[k], k).toBeCloseTo(k.startsWith('loss_iou') ? 2 * one[k] : one[k], 5);
    expect(one.loss_iou).toBeGreaterThan(0);
    tf.dispose(batch as unknown as tf.TensorContainer);
  });

  it('inference ranks by p^(1-b) * sigmoid(iou)^b; b = 0 is plain DINO post-processing', () => {
    const [q, c] = [4, 3];
    const logits = Float32Array.from({ length: q * c }, (_, i) => Math.cos(i * 2.3) * 3);
    const iouLogits = Float32Array.from([2, -1, 0.5, -3]);
    const boxes = Float32Array.from({ length: q * 4 }, (_, i) => 0.3 + 0.1 * (i % 4));
    const outputs = { pred_logits: tf.tensor3d(logits, [1, q, c]), pred_boxes: tf.tensor3d(boxes, [1, q, 4]), pred_ious: tf.tensor3d(iouLogits, [1, q, 1]) };
    const b = model.iouScoreWeight;
    expect(b).toBe(0.3);
    const fused = Array.from(logits, (x, i) => ({ i, s: Math.pow(sigmoid(x), 1 - b) * Math.pow(sigmoid(iouLogits[Math.floor(i / c)]), b) })).sort((u, v) => v.s - u.s).slice(0, model.selectBoxNums);
    const [det] = model.inference(outputs, [[64, 64]]);
    expectExact(det.topkIndex, fused.map((f) => f.i), 'topk index');
    expectClose(det.scores, fused.map((f) => f.s), RTOL.activation, 'fused scores');

    Object.assign(model, { iouScoreWeight: 0 });
    const [plain] = model.inference(outputs, [[64, 64]]);
    const [dino] = dinoInference(outputs.pred_logits, outputs.pred_boxes, model.selectBoxNums, [[64, 64]]);
    Object.assign(model, { iouScoreWeight: b });
    expectExact(plain.topkIndex, dino.topkIndex, 'b = 0 topk');
    expectClose(plain.scores, dino.scores, 0, 'b = 0 scores');
    tf.dispose([outputs.pred_logits, outputs.pred_boxes, outputs.pred_ious]);
  });
});
