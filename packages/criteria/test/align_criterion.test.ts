// align_criterion (fixtures/parity/README.md section 6): the full AlignDETRCriterion loss dict, the
// weighted total, the gradients w.r.t. every input, and the indices used per output.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, expectExact, fixtureRaw, fixtureTensor, loadFixture, RTOL } from '@detr/core/testing';
import { flattenMatches, MixedMatcher } from '@detr/matchers';
import { AlignDETRCriterion, applyWeightDict, expandWeightDict, IABCELoss, sumLosses, type DetectorOutputs } from '../src/index';
import { fixtureTargets } from './fixture_targets';

const F = 'align_criterion';
const INPUTS = ['dec_logits', 'dec_boxes', 'enc_logits', 'enc_boxes', 'dn_logits', 'dn_boxes'] as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function criterion(): AlignDETRCriterion {
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

/** Layer 5 is the final output, 0..4 the aux outputs (README section 6). */
function outputsFrom([decL, decB, encL, encB, dnL, dnB]: tf.Tensor[]): DetectorOutputs {
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

describe('AlignDETRCriterion against align_criterion', () => {
  it('all 39 loss-dict entries, their weighted values and the total; the indices of every output', () => {
    const inputs = INPUTS.map((k) => fixtureTensor(F, k));
    const crit = criterion();
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const { losses, indices } = crit.computeLosses(outputsFrom(inputs), fixtureTargets(F));
      const expectedKeys = [...loadFixture(F).tensors.keys()].filter((k) => k.startsWith('loss/')).map((k) => k.slice(5)).sort();
      expect(expectedKeys.length).toBe(39);
      expect(Object.keys(losses).sort()).toEqual(expectedKeys);
      for (const key of expectedKeys) expectClose(losses[key], fixtureRaw(F, `loss/${key}`), RTOL.loss, key);
      const weighted = applyWeightDict(losses, crit.weight_dict);
      for (const key of expectedKeys) expectClose(weighted[key], fixtureRaw(F, `loss_weighted/${key}`), RTOL.loss, `weighted ${key}`);
      expectClose(sumLosses(weighted), fixtureRaw(F, 'loss_total'), RTOL.loss, 'loss_total');

      const names: Record<string, string> = { dec5: 'final', enc: 'enc', ...Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`dec${i}`, String(i)])) };
      for (const [fixtureName, key] of Object.entries(names)) {
        const m = flattenMatches(indices[key]);
        for (const part of ['sizes', 'batch', 'src', 'tgt'] as const) expectExact(m[part], fixtureRaw(F, `match_${fixtureName}_${part}`), `match_${fixtureName}_${part}`);
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
    INPUTS.forEach((name, i) => expectClose(grads[i], fixtureRaw(F, `grad_${name}`), RTOL.grad, `grad_${name}`));
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(inputs);
  });

  it('without DN outputs the DN keys are zeros (upstream), and a lone dn_meta is an error', () => {
    const inputs = INPUTS.map((k) => fixtureTensor(F, k));
    tf.tidy(() => {
      const { dn_outputs: _dn, dn_meta: _meta, ...rest } = outputsFrom(inputs);
      const losses = criterion().forward(rest, fixtureTargets(F));
      expect(Object.keys(losses).length).toBe(39);
      for (const key of ['loss_class_dn', 'loss_giou_dn_4']) expect(losses[key].dataSync()[0]).toBe(0);
      expectClose(losses.loss_class_enc, fixtureRaw(F, 'loss/loss_class_enc'), RTOL.loss, 'loss_class_enc');
      expect(() => criterion().forward({ ...rest, dn_meta: { dn_num: 2, single_padding: 12 } }, fixtureTargets(F))).toThrow(/dn_meta but no dn_outputs/);
    });
    tf.dispose(inputs);
  });

  it('a NaN in an aux layer fails with the layer name, and targets are checked against num_classes', () => {
    const inputs = INPUTS.map((k) => fixtureTensor(F, k));
    tf.tidy(() => {
      const outputs = outputsFrom(inputs);
      const bad = tf.buffer(outputs.aux_outputs![2].pred_boxes.shape, 'float32', Float32Array.from(outputs.aux_outputs![2].pred_boxes.dataSync()));
      bad.set(NaN, 3, 4, 2);
      outputs.aux_outputs![2] = { pred_logits: outputs.aux_outputs![2].pred_logits, pred_boxes: bad.toTensor() };
      expect(() => criterion().forward(outputs, fixtureTargets(F))).toThrow(/aux_outputs\[2\]: pred_boxes\[3, 4, 2\] is NaN/);
      const targets = fixtureTargets(F);
      targets[2] = { ...targets[2], labels: Int32Array.from(targets[2].labels, () => 5) };
      expect(() => criterion().forward(outputsFrom(inputs), targets)).toThrow(/targets\[2\]\.labels\[0\] = 5 is not a class index in \[0, 5\)/);
      expect(() => new AlignDETRCriterion({ num_classes: 80, weight_dict: {} }).forward(outputsFrom(inputs), fixtureTargets(F))).toThrow(/pred_logits has 5 classes but num_classes is 80/);
    });
    tf.dispose(inputs);
  });
});
