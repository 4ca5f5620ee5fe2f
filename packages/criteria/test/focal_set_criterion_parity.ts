/**
 * matcher_focal parity checks (fixtures/parity/README.md section 5) of the detrex sigmoid focal loss and
 * SetCriterion, on one backend: focal_set_criterion.test.ts runs them on cpu,
 * focal_set_criterion.wasm.test.ts on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadroomLog, RTOL, fixtureRaw, fixtureTensor, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
import { HungarianMatcher } from '@detr/matchers';
import { SetCriterion, sigmoidFocalLoss, sigmoidFocalLossElementwise, SigmoidFocalLoss, sumLosses } from '../src/index';
import { fixtureTargets } from './fixture_targets';

const F = 'matcher_focal';
const WEIGHTS = { loss_class: 1, loss_bbox: 5, loss_giou: 2 };

function criterion(): SetCriterion {
  return new SetCriterion({
    num_classes: 5,
    matcher: new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 }),
    weight_dict: WEIGHTS,
    class_loss: new SigmoidFocalLoss({ alpha: 0.25, gamma: 2 }),
  });
}

export function describeFocalSetCriterionParity(backend: TestBackend): void {
  const log = new HeadroomLog(F, backend);
  const close = log.close;

  describe(`sigmoid focal loss and SetCriterion against matcher_focal, ${backend} backend`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
    });
    afterAll(() => reportHeadroom(log));

    it('focal loss elementwise and detrex normalisation mean(1).sum()/num_boxes', () => {
      tf.tidy(() => {
        const logits = fixtureTensor(F, 'pred_logits');
        const onehot = fixtureTensor(F, 'target_onehot');
        close(sigmoidFocalLossElementwise(logits, onehot, 0.25, 2), fixtureRaw(F, 'focal_loss_elementwise'), RTOL.activation, 'focal_loss_elementwise');
        close(sigmoidFocalLoss(logits, onehot, 4, 0.25, 2), fixtureRaw(F, 'focal_loss'), RTOL.loss, 'focal_loss');
      });
    });

    it('loss_class (focal * Q), loss_bbox, loss_giou and the weighted total', () => {
      tf.tidy(() => {
        const crit = criterion();
        const outputs = { pred_logits: fixtureTensor(F, 'pred_logits'), pred_boxes: fixtureTensor(F, 'pred_boxes') };
        const losses = crit.forward(outputs, fixtureTargets(F));
        expect(Object.keys(losses).sort()).toEqual(['loss_bbox', 'loss_class', 'loss_giou']);
        for (const key of ['loss_class', 'loss_bbox', 'loss_giou']) close(losses[key], fixtureRaw(F, key), RTOL.loss, key);
        close(sumLosses(crit.weightLosses(losses)), fixtureRaw(F, 'loss_total_weighted'), RTOL.loss, 'loss_total_weighted');
      });
    });

    it('gradients of the weighted total w.r.t. pred_logits and pred_boxes (tf.grad)', () => {
      const crit = criterion();
      const targets = fixtureTargets(F);
      const logits = fixtureTensor(F, 'pred_logits');
      const boxes = fixtureTensor(F, 'pred_boxes');
      const [gLogits, gBoxes] = tf.grads((l: tf.Tensor, b: tf.Tensor) => sumLosses(crit.weightLosses(crit.forward({ pred_logits: l, pred_boxes: b }, targets))))([logits, boxes]);
      close(gLogits, fixtureRaw(F, 'grad_pred_logits'), RTOL.grad, 'grad_pred_logits');
      close(gBoxes, fixtureRaw(F, 'grad_pred_boxes'), RTOL.grad, 'grad_pred_boxes');
      tf.dispose([logits, boxes, gLogits, gBoxes]);
    });
  });
}
