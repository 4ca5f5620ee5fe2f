// align_criterion (fixtures/parity/README.md section 6): the full AlignDETRCriterion loss dict, the
// weighted total, the gradients w.r.t. every input and the indices used per output on the cpu backend
// (checks in align_criterion_parity.ts; align_criterion.wasm.test.ts runs them on wasm), plus the
// criterion's behaviour without DN outputs and on bad input.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose, fixtureRaw, fixtureTensor } from '@detr/core/testing';
import { AlignDETRCriterion } from '../src/index';
import { F, INPUTS, criterion, describeAlignCriterionParity, outputsFrom } from './align_criterion_parity';
import { fixtureTargets } from './fixture_targets';

describeAlignCriterionParity('cpu');

describe('AlignDETRCriterion on the align_criterion inputs: DN-less outputs and bad input', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
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

  it('match_num must have one entry per decoder output plus the encoder (else the last layer gets a wrong k)', () => {
    const inputs = INPUTS.map((k) => fixtureTensor(F, k));
    tf.tidy(() => {
      const c = criterion(); // fixture: 6 decoder outputs, match_num of 7 entries
      const tooLong = new AlignDETRCriterion({ num_classes: c.numClasses, matcher: c.matcher, class_loss: c.classLoss, match_num: [...c.matchNum!, 1], tau: c.tau, weight_dict: c.weight_dict });
      expect(() => tooLong.forward(outputsFrom(inputs), fixtureTargets(F))).toThrow(/match_num has 8 entries but the model has 6 decoder outputs; it needs 7/);
    });
    tf.dispose(inputs);
  });
});
