// align_ia_bce (fixtures/parity/README.md section 6): quality t, local ranks, rank weights, IA-BCE loss
// and gradient for MixedMatcher k = 1, 2, 3, and ManyToOneCriterion.get_loss at layer_spec 1.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, expectExact, fixtureRaw, fixtureTensor, loadFixture, RTOL } from '@detr/core/testing';
import { MixedMatcher, readPredictions } from '@detr/matchers';
import {
  computeOutputLosses,
  gatherMatchedPairs,
  IABCELoss,
  localRank,
  matchedScoreAndIou,
  primeSampleWeights,
  weightTable,
  type OutputLossDetails,
} from '../src/index';
import { fixtureTargets } from './fixture_targets';

const F = 'align_ia_bce';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function setup(k: number) {
  const outputs = { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
  const targets = fixtureTargets(F);
  const pred = readPredictions(outputs, 'outputs');
  const matches = new MixedMatcher({}).matchData(pred, targets, k);
  const numBoxes = (fixtureRaw(F, 'num_boxes').data as Float32Array)[0];
  return { outputs, targets, pred, matches, numBoxes };
}

describe('IA-BCE against align_ia_bce', () => {
  it('weight table exp(-arange(k)/tau), zero-padded', () => {
    expectClose(primeSampleWeights(3, 1.5), fixtureRaw(F, 'ia_bce_k3_w_prime'), RTOL.activation, 'w_prime k3');
    const table = weightTable(loadFixture(F).config.match_num_for_weight_table, 1.5);
    const flat = new Float32Array(table.length * 2);
    table.forEach((row, l) => flat.set(row, 2 * l));
    expectClose(flat, fixtureRaw(F, 'weight_table'), RTOL.activation, 'weight_table');
  });

  for (const k of [1, 2, 3]) {
    it(`k = ${k}: quality t, local rank (exact), rank weight, loss and gradient with w_prime and with w = 1`, () => {
      const { outputs, targets, pred, matches, numBoxes } = setup(k);
      const loss = new IABCELoss({ alpha: 0.25, gamma: 2 });
      const pairs = gatherMatchedPairs(matches, targets, pred.numQueries, pred.numClasses, 'test');
      const { score, iou } = matchedScoreAndIou(pred, pairs);
      const t = loss.quality(score, iou);
      expectClose(t, fixtureRaw(F, `ia_bce_k${k}_quality_t`), RTOL.activation, `quality_t k${k}`);
      const rank = localRank(t, matches);
      expectExact(rank, fixtureRaw(F, `ia_bce_k${k}_local_rank`), `local_rank k${k}`);
      const wPrime = primeSampleWeights(k, 1.5);
      expectClose(Array.from(rank, (r) => wPrime[r]), fixtureRaw(F, `ia_bce_k${k}_rank_weight`), RTOL.activation, `rank_weight k${k}`);

      for (const variant of ['wtable', 'w1'] as const) {
        const rankWeights = variant === 'wtable' ? wPrime : null;
        const f = (logits: tf.Tensor) => computeOutputLosses({ output: { pred_logits: logits, pred_boxes: outputs.pred_boxes }, pred, targets, matches, numBoxes, classLoss: loss, rankWeights }).loss_class;
        const value = tf.tidy(() => f(outputs.pred_logits));
        expectClose(value, fixtureRaw(F, `ia_bce_k${k}_${variant}_loss`), RTOL.loss, `${variant}_loss k${k}`);
        const grad = tf.grad(f)(outputs.pred_logits);
        expectClose(grad, fixtureRaw(F, `ia_bce_k${k}_${variant}_grad_logits`), RTOL.grad, `${variant}_grad_logits k${k}`);
        tf.dispose([value, grad]);
      }
      tf.dispose(outputs);
    });
  }

  it('ManyToOneCriterion.get_loss at layer_spec 1 (k = 2, w = weight_table[1]): class, L1, GIoU and gradients', () => {
    const { outputs, targets, pred, matches, numBoxes } = setup(2);
    const rankWeights = weightTable([2, 2, 2, 2, 2, 2, 1], 1.5)[1];
    const classLoss = new IABCELoss({});
    const run = (l: tf.Tensor, b: tf.Tensor, details?: OutputLossDetails) =>
      computeOutputLosses({ output: { pred_logits: l, pred_boxes: b }, pred, targets, matches, numBoxes, classLoss, rankWeights }, details);
    tf.tidy(() => {
      const details = {} as OutputLossDetails;
      const losses = run(outputs.pred_logits, outputs.pred_boxes, details);
      expectClose(losses.loss_class, fixtureRaw(F, 'm2o_k2_loss_class'), RTOL.loss, 'm2o loss_class');
      expectClose(losses.loss_bbox, fixtureRaw(F, 'm2o_k2_loss_bbox'), RTOL.loss, 'm2o loss_bbox');
      expectClose(losses.loss_giou, fixtureRaw(F, 'm2o_k2_loss_giou'), RTOL.loss, 'm2o loss_giou');
      expectClose(details.weight!, fixtureRaw(F, 'ia_bce_k2_rank_weight'), RTOL.activation, 'm2o weights');
    });
    const [gl, gb] = tf.grads((l: tf.Tensor, b: tf.Tensor) => {
      const x = run(l, b);
      return tf.addN([x.loss_class, tf.mul(x.loss_bbox, 5), tf.mul(x.loss_giou, 2)]) as tf.Scalar;
    })([outputs.pred_logits, outputs.pred_boxes]);
    expectClose(gl, fixtureRaw(F, 'm2o_k2_grad_logits'), RTOL.grad, 'm2o_k2_grad_logits');
    expectClose(gb, fixtureRaw(F, 'm2o_k2_grad_boxes'), RTOL.grad, 'm2o_k2_grad_boxes');
    tf.dispose([gl, gb, outputs]);
  });

  it('local ranks handle groups of unequal size and keep matching order on ties', () => {
    const matches = [{ src: Int32Array.from([4, 9, 1, 3, 7]), tgt: Int32Array.from([0, 0, 1, 1, 1]) }, { src: new Int32Array(0), tgt: new Int32Array(0) }];
    expect(Array.from(localRank([0.2, 0.5, 0.3, 0.3, 0.9], matches))).toEqual([1, 0, 1, 2, 0]);
    expect(() => localRank([0.1], matches)).toThrow(/1 qualities for 5 matched pairs/);
  });

  it('stays finite where the upstream log(p) form gives NaN (|logit| > 88)', () => {
    tf.tidy(() => {
      const logits = tf.tensor3d([[[120, -120], [-95, 95]]]);
      const loss = new IABCELoss({});
      const positives = { entries: Int32Array.from([0]), quality: Float32Array.from([0.5]), weight: null };
      const value = loss.forward({ logits, positives, numBoxes: 1 }).dataSync()[0];
      // Independent float64: matched -(0.5 log s + 0.5 log(1-s)) at x = 120 -> 0.5*120; negatives
      // s^2 * -log(1-s): x = -120, -95 ~ 0; x = 95: 1 * 95.
      expect(value).toBeCloseTo(60 + 95, 3);
      const grad = tf.grad((l: tf.Tensor) => loss.forward({ logits: l, positives, numBoxes: 1 }))(logits).dataSync();
      expect(Array.from(grad).every(Number.isFinite)).toBe(true);
    });
  });
});
