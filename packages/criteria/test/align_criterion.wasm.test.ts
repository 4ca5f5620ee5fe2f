// The training backend: AlignDETRCriterion's loss and gradients on tfjs-backend-wasm against the
// align_criterion fixture (its gradient must not need kernels wasm lacks, e.g. UnsortedSegmentSum).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, fixtureRaw, fixtureTensor, RTOL } from '@detr/core/testing';
import { AlignDETRCriterion, expandWeightDict, sumLosses, type DetectorOutputs } from '../src/index';
import { fixtureTargets } from './fixture_targets';

const F = 'align_criterion';
const INPUTS = ['dec_logits', 'dec_boxes', 'enc_logits', 'enc_boxes', 'dn_logits', 'dn_boxes'] as const;

beforeAll(async () => {
  await tf.setBackend('wasm');
});

function outputsFrom([decL, decB, encL, encB, dnL, dnB]: tf.Tensor[]): DetectorOutputs {
  const [dl, db, nl, nb] = [tf.unstack(decL), tf.unstack(decB), tf.unstack(dnL), tf.unstack(dnB)];
  const aux = (l: tf.Tensor[], b: tf.Tensor[]) => [0, 1, 2, 3, 4].map((i) => ({ pred_logits: l[i], pred_boxes: b[i] }));
  return {
    pred_logits: dl[5],
    pred_boxes: db[5],
    aux_outputs: aux(dl, db),
    enc_outputs: { pred_logits: encL, pred_boxes: encB },
    dn_outputs: { pred_logits: nl[5], pred_boxes: nb[5], aux_outputs: aux(nl, nb) },
    dn_meta: { dn_num: 2, single_padding: 12 },
  };
}

describe('AlignDETRCriterion on wasm', () => {
  it('loss_total and all input gradients match the fixture', () => {
    expect(tf.getBackend()).toBe('wasm');
    const inputs = INPUTS.map((k) => fixtureTensor(F, k));
    const crit = new AlignDETRCriterion({ num_classes: 5, weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 5, enc: true, dn: true }) });
    const targets = fixtureTargets(F);
    const total = (...xs: tf.Tensor[]) => sumLosses(crit.weightLosses(crit.forward(outputsFrom(xs), targets)));
    const value = tf.tidy(() => total(...inputs));
    expectClose(value, fixtureRaw(F, 'loss_total'), RTOL.loss, 'loss_total (wasm)');
    const grads = tf.grads(total)(inputs);
    INPUTS.forEach((name, i) => expectClose(grads[i], fixtureRaw(F, `grad_${name}`), RTOL.grad, `grad_${name} (wasm)`));
    tf.dispose([value, ...grads, ...inputs]);
  });
});
