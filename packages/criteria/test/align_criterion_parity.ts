/**
 * align_criterion parity checks (fixtures/parity/README.md section 6) on one backend: the full
 * AlignDETRCriterion loss dict, the weighted values and total, the indices used per output (exactly),
 * and the gradients of the total w.r.t. every input. align_criterion.test.ts runs them on cpu,
 * align_criterion.wasm.test.ts on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadroomLog, RTOL, expectExact, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
import { flattenMatches, MixedMatcher } from '@detr/matchers';
import { AlignDETRCriterion, applyWeightDict, expandWeightDict, IABCELoss, sumLosses, type DetectorOutputs } from '../src/index';
import { fixtureTargets } from './fixture_targets';

export const F = 'align_criterion';
export const INPUTS = ['dec_logits', 'dec_boxes', 'enc_logits', 'enc_boxes', 'dn_logits', 'dn_boxes'] as const;

/** The criterion with the fixture's settings (config `aligndetr_k=2_r50_4scale_12ep.py`). */
export function criterion(): AlignDETRCriterion {
  const config = loadFixture(F).config;
  return new AlignDETRCriterion({
    num_classes: config.num_classes,
    matcher: new MixedMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2, k_cap: 'upstream' }),
    class_loss: new IABCELoss({ alpha: config.alpha, gamma: config.gamma }),
    match_num: config.match_num,
    tau: config.tau,
    weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 5, enc: true, dn: true }),
  });
}

/** The fixture inputs as detector outputs: layer 5 is the final output, 0..4 the aux outputs (README section 6). */
export function outputsFrom([decL, decB, encL, encB, dnL, dnB]: tf.Tensor[]): DetectorOutputs {
  const [dl, db, nl, nb] = [tf.unstack(decL), tf.unstack(decB), tf.unstack(dnL), tf.unstack(dnB)];
  const aux = (l: tf.Tensor[], b: tf.Tensor[]) => [0, 1, 2, 3, 4].map((i) => ({ pred_logits: l[i], pred_boxes: b[i] }));
  const { dn_meta } = loadFixture(F).config;
  return {
    pred_logits: dl[5],
    pred_boxes: db[5],
    aux_outputs: aux(dl, db),
    enc_outputs: { pred_logits: encL, pred_boxes: encB },
    dn_outputs: { pred_logits: nl[5], pred_boxes: nb[5], aux_outputs: aux(nl, nb) },
    dn_meta: { dn_num: dn_meta.dn_num, single_padding: dn_meta.single_padding },
  };
}

export function describeAlignCriterionParity(backend: TestBackend): void {
  const log = new HeadroomLog(F, backend);
  const close = log.close;

  describe(`AlignDETRCriterion against align_criterion, ${backend} backend`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
    });
    afterAll(() => reportHeadroom(log));

    it('all 39 loss-dict entries, their weighted values and the total; the indices of every output', () => {
      const inputs = INPUTS.map((k) => fixtureTensor(F, k));
      const crit = criterion();
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const { losses, indices } = crit.computeLosses(outputsFrom(inputs), fixtureTargets(F));
        const expectedKeys = [...loadFixture(F).tensors.keys()].filter((k) => k.startsWith('loss/')).map((k) => k.slice(5)).sort();
        expect(expectedKeys.length).toBe(39);
        expect(Object.keys(losses).sort()).toEqual(expectedKeys);
        for (const key of expectedKeys) close(losses[key], fixtureRaw(F, `loss/${key}`), RTOL.loss, key);
        const weighted = applyWeightDict(losses, crit.weight_dict);
        for (const key of expectedKeys) close(weighted[key], fixtureRaw(F, `loss_weighted/${key}`), RTOL.loss, `weighted ${key}`);
        close(sumLosses(weighted), fixtureRaw(F, 'loss_total'), RTOL.loss, 'loss_total');

        const names: Record<string, string> = { dec5: 'final', enc: 'enc', ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`dec${i}`, String(i)])) };
        for (const [fixtureName, key] of Object.entries(names)) {
          const m = flattenMatches(indices[key]);
          for (const part of ['sizes', 'batch', 'src', 'tgt'] as const) expectExact(m[part], fixtureRaw(F, `match_${fixtureName}_${part}`), `match_${fixtureName}_${part} (${backend})`);
        }
      });
      expect(tf.memory().numTensors).toBe(before); // nothing leaks out of the tidy
      tf.dispose(inputs);
    });

    it('gradients of loss_total w.r.t. decoder, encoder and DN logits and boxes', () => {
      const inputs = INPUTS.map((k) => fixtureTensor(F, k));
      const crit = criterion();
      const targets = fixtureTargets(F);
      const before = tf.memory().numTensors;
      const grads = tf.grads((...xs: tf.Tensor[]) => sumLosses(crit.weightLosses(crit.forward(outputsFrom(xs), targets))))(inputs);
      INPUTS.forEach((name, i) => close(grads[i], fixtureRaw(F, `grad_${name}`), RTOL.grad, `grad_${name}`));
      tf.dispose(grads);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(inputs);
    });
  });
}
