import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { linspace, mean, pairwiseSum, roundHalfEven } from '../src/numpy-compat';
import { formatFixed } from '../src/py-format';
import { FIXTURES } from './reference-cases';

it('np.mean / np.sum bit for bit (pairwise summation), on arrays numpy built the same way', () => {
  const cases = JSON.parse(readFileSync(`${FIXTURES}numpy_mean.expected.json`, 'utf8')) as Array<{ n: number; mean: number; sum: number }>;
  const scale = [0.1, 1.0, 10.0];
  for (const { n, mean: m, sum } of cases) {
    const a = Float64Array.from({ length: n }, (_, i) => (((i * 7919) % 1009) / 1009) * scale[i % 3]);
    expect(pairwiseSum(a), `sum n=${n}`).toBe(sum);
    expect(mean(a), `mean n=${n}`).toBe(m);
  }
});

it('linspace edge cases follow numpy', () => {
  expect(linspace(0, 1, 1)).toEqual([0]);
  expect(linspace(2, 2, 3)).toEqual([2, 2, 2]);
  expect(linspace(0, 1, 0)).toEqual([]);
  expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2]);
});

it("formats like Python's '{:0.3f}', ties to even (strings printed by CPython 3.11)", () => {
  const python: Array<[number, string, string]> = [
    [0.0625, '0.062', '0.06'], [0.1875, '0.188', '0.19'], [0.3125, '0.312', '0.31'], [0.9375, '0.938', '0.94'],
    [1.0625, '1.062', '1.06'], [-0.0625, '-0.062', '-0.06'], [-0.0001, '-0.000', '-0.00'], [-1, '-1.000', '-1.00'],
    [0.9995, '1.000', '1.00'], [0.0015, '0.002', '0.00'], [0.125, '0.125', '0.12'], [0.375, '0.375', '0.38'],
    [0.8999999999999999, '0.900', '0.90'], [2.675, '2.675', '2.67'],
  ];
  for (const [x, f3, f2] of python) {
    expect(formatFixed(x, 3), String(x)).toBe(f3);
    expect(formatFixed(x, 2), String(x)).toBe(f2);
  }
});
