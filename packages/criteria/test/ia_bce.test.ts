// align_ia_bce (fixtures/parity/README.md section 6): the fixture checks (quality t, local ranks, rank
// weights, IA-BCE loss and gradient for MixedMatcher k = 1, 2, 3, ManyToOneCriterion.get_loss) on the cpu
// backend from ia_bce_parity.ts (ia_bce.wasm.test.ts runs them on wasm), and IA-BCE edge cases.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { IABCELoss, localRank } from '../src/index';
import { describeIaBceParity } from './ia_bce_parity';

describeIaBceParity('cpu');

describe('IA-BCE edge cases', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
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
