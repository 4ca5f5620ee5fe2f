/**
 * align_ia_bce parity checks (fixtures/parity/README.md section 6) on one backend: quality t, local
 * ranks, rank weights, IA-BCE loss and gradient for MixedMatcher k = 1, 2, 3, and
 * ManyToOneCriterion.get_loss at layer_spec 1. ia_bce.test.ts runs them on cpu, ia_bce.wasm.test.ts on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { HeadroomLog, RTOL, expectExact, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
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

function setup(k: number) {
  const outputs = { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
  const targets = fixtureTargets(F);
  const pred = readPredictions(outputs, 'outputs');
  const matches = new MixedMatcher({}).matchData(pred, targets, k);
  const numBoxes = (fixtureRaw(F, 'num_boxes').data as Float32Array)[0];
  return { outputs, targets, pred, matches, numBoxes };
}

export function describeIaBceParity(backend: TestBackend): void {
  const log = new HeadroomLog(F, backend);
  const close = log.close;

  describe(`IA-BCE against align_ia_bce, ${backend} backend`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
    });
    afterAll(() => reportHeadroom(log));

    it('weight table exp(-arange(k)/tau), zero-padded', () => {
      close(primeSampleWeights(3, 1.5), fixtureRaw(F, 'ia_bce_k3_w_prime'), RTOL.activation, 'w_prime k3');
      const table = weightTable(loadFixture(F).config.match_num_for_weight_table, 1.5);
      const flat = new Float32Array(table.length * 2);
      table.forEach((row, l) => flat.set(row, 2 * l));
      close(flat, fixtureRaw(F, 'weight_table'), RTOL.activation, 'weight_table');
    });

    for (const k of [1, 2, 3]) {
      it(`k = ${k}: quality t, local rank (exact), rank weight, loss and gradient with w_prime and with w = 1`, () => {
        const { outputs, targets, pred, matches, numBoxes } = setup(k);
        const loss = new IABCELoss({ alpha: 0.25, gamma: 2 });
        const pairs = gatherMatchedPairs(matches, targets, pred.numQueries, pred.numClasses, 'test');
        const { score, iou } = matchedScoreAndIou(pred, pairs);
        const t = loss.quality(score, iou);
        close(t, fixtureRaw(F, `ia_bce_k${k}_quality_t`), RTOL.activation, `quality_t k${k}`);
        const rank = localRank(t, matches);
        expectExact(rank, fixtureRaw(F, `ia_bce_k${k}_local_rank`), `local_rank k${k} (${backend})`);
        const wPrime = primeSampleWeights(k, 1.5);
        close(Array.from(rank, (r) => wPrime[r]), fixtureRaw(F, `ia_bce_k${k}_rank_weight`), RTOL.activation, `rank_weight k${k}`);

        for (const variant of ['wtable', 'w1'] as const) {
          const rankWeights = variant === 'wtable' ? wPrime : null;
          const f = (logits: tf.Tensor) => computeOutputLosses({ output: { pred_logits: logits, pred_boxes: outputs.pred_boxes }, pred, targets, matches, numBoxes, classLoss: loss, rankWeights }).loss_class;
          const value = tf.tidy(() => f(outputs.pred_logits));
          close(value, fixtureRaw(F, `ia_bce_k${k}_${variant}_loss`), RTOL.loss, `${variant}_loss k${k}`);
          const grad = tf.grad(f)(outputs.pred_logits);
          close(grad, fixtureRaw(F, `ia_bce_k${k}_${variant}_grad_logits`), RTOL.grad, `${variant}_grad_logits k${k}`);
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
        close(losses.loss_class, fixtureRaw(F, 'm2o_k2_loss_class'), RTOL.loss, 'm2o loss_class');
        close(losses.loss_bbox, fixtureRaw(F, 'm2o_k2_loss_bbox'), RTOL.loss, 'm2o loss_bbox');
        close(losses.loss_giou, fixtureRaw(F, 'm2o_k2_loss_giou'), RTOL.loss, 'm2o loss_giou');
        close(details.weight!, fixtureRaw(F, 'ia_bce_k2_rank_weight'), RTOL.activation, 'm2o weights');
      });
      const [gl, gb] = tf.grads((l: tf.Tensor, b: tf.Tensor) => {
        const x = run(l, b);
        return tf.addN([x.loss_class, tf.mul(x.loss_bbox, 5), tf.mul(x.loss_giou, 2)]) as tf.Scalar;
      })([outputs.pred_logits, outputs.pred_boxes]);
      close(gl, fixtureRaw(F, 'm2o_k2_grad_logits'), RTOL.grad, 'm2o_k2_grad_logits');
      close(gb, fixtureRaw(F, 'm2o_k2_grad_boxes'), RTOL.grad, 'm2o_k2_grad_boxes');
      tf.dispose([gl, gb, outputs]);
    });
  });
}
