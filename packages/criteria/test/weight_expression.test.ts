import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { WeightExpression } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const env = { t: 0.3, s: 0.6, gamma: 2 };

describe('weight expressions', () => {
  const cases: [string, number][] = [
    ['t', 0.3],
    ['1-t', 0.7],
    ['(t-s)^2', (0.3 - 0.6) ** 2],
    ['(1-t)s^2', 0.7 * 0.36],
    ['s^gamma', 0.36],
    ['p**gamma', 0.36],
    ['|t-s|^2*t', 0.09 * 0.3],
    ['|t-s| t', 0.3 * 0.3],
    ['2(t+1)', 2.6],
    ['-t^2', -0.09],
    ['1-t-s', 1 - 0.3 - 0.6],
    ['t/s/2', 0.25],
    ['2^-1', 0.5],
    ['0.75 s^gamma', 0.75 * 0.36],
  ];
  for (const [text, value] of cases) {
    it(`${text} = ${value}, on numbers and on tensors`, () => {
      const e = new WeightExpression(text, 'test');
      expect(e.evaluateNumber(env)).toBeCloseTo(value, 12);
      const out = tf.tidy(() => {
        const v = e.evaluateTensor({ t: tf.tensor1d([0.3, 0.5]), s: tf.tensor1d([0.6, 0.1]), gamma: 2 });
        return typeof v === 'number' ? tf.fill([2], v) : v;
      });
      const second = e.evaluateNumber({ t: 0.5, s: 0.1, gamma: 2 });
      const data = out.dataSync();
      expect(data[0]).toBeCloseTo(value, 6);
      expect(data[1]).toBeCloseTo(second, 6);
      out.dispose();
    });
  }

  it('knows constants and whether s is used', () => {
    expect(new WeightExpression('0', 'x').constantValue(2)).toBe(0);
    expect(new WeightExpression('t', 'x').constantValue(2)).toBeUndefined();
    expect(new WeightExpression('(1-t)s^2', 'x').usesScore).toBe(true);
    expect(new WeightExpression('1-t', 'x').usesScore).toBe(false);
  });

  it('errors name the option and the problem', () => {
    expect(() => new WeightExpression('', 'w_pos')).toThrow(/w_pos: empty expression/);
    expect(() => new WeightExpression('t+', 'w_pos')).toThrow(/w_pos: unexpected end in "t\+"/);
    expect(() => new WeightExpression('t $ s', 'w_neg')).toThrow(/w_neg: cannot read "\$ s"/);
    expect(() => new WeightExpression('|t-s', 'w_neg')).toThrow(/missing closing "\|"/);
    expect(() => new WeightExpression('t)', 'w_neg')).toThrow(/unexpected "\)"/);
    expect(() => new WeightExpression(3 as never, 'w_neg')).toThrow(/expected an expression string/);
  });
});
