// The config surface: registry ids, weight-dict expansion recomputed after overrides, and the one-line
// overrides that select the loss variants (the table in the report / docs).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '@detr/core/testing';
import { applyOverrides, instantiate, L, listParts, resolveConfig, type ConfigNode } from '@detr/registry';
import { MixedMatcher } from '@detr/matchers';
import {
  AlignDETRCriterion,
  applyWeightDict,
  derivedWeightDict,
  expandWeightDict,
  IABCELoss,
  QualityFocalLoss,
  SigmoidFocalLoss,
  VarifocalLoss,
} from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function alignConfig(): ConfigNode {
  return {
    model: {
      num_classes: 80,
      transformer: { decoder: { num_layers: 6 } },
      criterion: L(AlignDETRCriterion)({
        num_classes: '${..num_classes}',
        matcher: L(MixedMatcher)({ cost_class: 2, cost_bbox: 5, cost_giou: 2, k_cap: 'upstream' }),
        class_loss: L(IABCELoss)({ alpha: 0.25, gamma: 2, w_pos: 't', w_neg: '1-t', w_bg: 's^gamma' }),
        match_num: [2, 2, 2, 2, 2, 2, 1],
        tau: 1.5,
        two_stage_binary_cls: false,
        base_weight_dict: { loss_class: 1, loss_bbox: 5, loss_giou: 2 },
        weight_dict: derivedWeightDict({ num_aux: 'model.transformer.decoder.num_layers', minus_one: true, enc: true, dn: true }),
      }),
    },
  };
}

const build = (overrides: string[]) => instantiate<{ criterion: AlignDETRCriterion }>(resolveConfig(applyOverrides(alignConfig(), overrides)).model).criterion;

describe('registry and config surface', () => {
  it('registers every part under its detrex-like id', () => {
    expect(listParts('matcher')).toEqual(expect.arrayContaining(['hungarian', 'mixed']));
    expect(listParts('loss')).toEqual(expect.arrayContaining(['sigmoid_focal', 'ia_bce', 'vfl', 'qfl']));
    expect(listParts('criterion')).toEqual(expect.arrayContaining(['set', 'two_stage', 'dino', 'many_to_one', 'align_detr', 'hybrid']));
  });

  it('expands the weight dict like the Align-DETR config (fixture weight_dict minus the unused _dn_enc keys)', () => {
    const expanded = expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 5, enc: true, dn: true });
    const upstream = { ...loadFixture('align_criterion').config.weight_dict } as Record<string, number>;
    for (const k of Object.keys(upstream)) if (k.includes('_dn_enc')) delete upstream[k];
    expect(expanded).toEqual(upstream);
    const hybrid = expandWeightDict({ loss_class: 2, loss_bbox: 5, loss_giou: 2 }, { num_aux: 1, enc: true, one2many: true });
    expect(Object.keys(hybrid).sort()).toEqual(
      ['', '_0', '_one2many', '_0_one2many', '_enc'].flatMap((s) => ['loss_bbox', 'loss_class', 'loss_giou'].map((k) => k + s)).sort(),
    );
  });

  it('recomputes the derived weight dict after overrides', () => {
    const base = build([]);
    expect(Object.keys(base.weight_dict).length).toBe(39);
    const c = build(['model.criterion.base_weight_dict.loss_class=2', 'model.transformer.decoder.num_layers=3']);
    expect(c.weight_dict.loss_class_1).toBe(2);
    expect(c.weight_dict.loss_class_dn_1).toBe(2);
    expect(c.weight_dict.loss_class_enc).toBe(2);
    expect('loss_class_2' in c.weight_dict).toBe(false);
    expect(c.numClasses).toBe(80);
  });

  it('applyWeightDict refuses losses without a weight unless asked to keep them (detrex behaviour)', () => {
    tf.tidy(() => {
      const losses = { loss_class: tf.scalar(2), loss_extra: tf.scalar(3) };
      expect(() => applyWeightDict(losses, { loss_class: 1 })).toThrow(/no weight for loss_extra/);
      const kept = applyWeightDict(losses, { loss_class: 4 }, { missing: 'keep' });
      expect([kept.loss_class.dataSync()[0], kept.loss_extra.dataSync()[0]]).toEqual([8, 3]);
    });
  });

  const lines: [string, (c: AlignDETRCriterion) => void][] = [
    ['model.criterion.class_loss.w_neg=0', (c) => expect((c.classLoss as IABCELoss).wNeg.text).toBe('0')],
    ['model.criterion.class_loss={"_target_": "loss/ia_bce", "w_pos": "1", "w_neg": "0"}', (c) => {
      const l = c.classLoss as IABCELoss;
      expect([l.wPos.text, l.wNeg.text, l.wBg.text, l.alpha]).toEqual(['1', '0', 's^gamma', 0.25]);
    }],
    ['model.criterion.class_loss={"_target_": "loss/ia_bce", "w_pos": "(t-s)^2", "w_neg": "(1-t)s^2"}', (c) => expect((c.classLoss as IABCELoss).wNeg.text).toBe('(1-t)s^2')],
    ['model.criterion.class_loss={"_target_": "loss/vfl"}', (c) => expect(c.classLoss).toBeInstanceOf(VarifocalLoss)],
    ['model.criterion.class_loss={"_target_": "loss/qfl", "beta": 1}', (c) => expect((c.classLoss as QualityFocalLoss).beta).toBe(1)],
    ['model.criterion.class_loss={"_target_": "loss/sigmoid_focal"}', (c) => expect(c.classLoss).toBeInstanceOf(SigmoidFocalLoss)],
    ['model.criterion.class_loss.alpha=0.5', (c) => expect((c.classLoss as IABCELoss).alpha).toBe(0.5)],
    ['model.criterion.match_num=[1, 1, 1, 1, 1, 1, 1]', (c) => expect(c.matchNum).toEqual([1, 1, 1, 1, 1, 1, 1])],
    ['model.criterion.tau=inf', (c) => expect(Array.from(c.weightTable![1])).toEqual([1, 1])],
    ['model.criterion.matcher.k_cap=per_image', (c) => expect((c.matcher as MixedMatcher).kCap).toBe('per_image')],
  ];
  for (const [line, verify] of lines) {
    it(`one-line override: ${line}`, () => verify(build([line])));
  }

  it('a _target_ swap between losses with different options fails naming the unknown options', () => {
    expect(() => build(['model.criterion.class_loss._target_=vfl'])).toThrow(/criterion\.class_loss \(loss\/vfl\): VarifocalLoss: unknown options "w_pos", "w_neg", "w_bg"/);
  });
});
