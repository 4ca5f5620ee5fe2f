import { describe, expect, it } from 'vitest';
import { linearSumAssignment, linearSumAssignmentFlat } from '../src/linear_sum_assignment';
import { Mulberry32 } from './fixtures/lsa/generator';

/** Optimal total by trying every injection of the shorter side into the longer one. */
function bruteForceTotal(cost: number[][], maximize: boolean): number {
  const rows = cost.length;
  const cols = cost[0].length;
  const transpose = rows > cols;
  const n = transpose ? cols : rows;
  const m = transpose ? rows : cols;
  const at = (i: number, j: number): number => (transpose ? cost[j][i] : cost[i][j]);
  const used = new Array<boolean>(m).fill(false);
  let best = maximize ? -Infinity : Infinity;
  const visit = (i: number, partial: number): void => {
    if (i === n) {
      if (maximize ? partial > best : partial < best) best = partial;
      return;
    }
    for (let j = 0; j < m; j++) {
      if (used[j]) continue;
      used[j] = true;
      visit(i + 1, partial + at(i, j));
      used[j] = false;
    }
  };
  visit(0, 0);
  return best;
}

/** Checks the scipy output contract and returns the total of the assignment (summed in row order). */
function checkedTotal(cost: number[][], rowIndices: number[], colIndices: number[]): number {
  const rows = cost.length;
  const cols = rows === 0 ? 0 : cost[0].length;
  const size = Math.min(rows, cols);
  expect(rowIndices.length).toBe(size);
  expect(colIndices.length).toBe(size);
  for (let k = 1; k < size; k++) expect(rowIndices[k]).toBeGreaterThan(rowIndices[k - 1]);
  expect(new Set(colIndices).size).toBe(size);
  let total = 0;
  for (let k = 0; k < size; k++) {
    expect(rowIndices[k]).toBeGreaterThanOrEqual(0);
    expect(rowIndices[k]).toBeLessThan(rows);
    expect(colIndices[k]).toBeGreaterThanOrEqual(0);
    expect(colIndices[k]).toBeLessThan(cols);
    total += cost[rowIndices[k]][colIndices[k]];
  }
  return total;
}

function randomMatrix(rng: Mulberry32, rows: number, cols: number, entry: () => number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, entry));
}

const SHAPES: Array<[number, number]> = [
  [1, 1], [1, 5], [5, 1], [2, 2], [2, 7], [7, 2], [3, 3], [3, 6], [6, 3], [4, 4], [4, 8], [8, 4], [5, 5], [5, 8],
  [8, 5], [6, 6], [6, 8], [8, 6],
];

describe('linearSumAssignment against brute force', () => {
  const families: Array<{ name: string; entry: (rng: Mulberry32) => number; exact: boolean }> = [
    { name: 'uniform [0, 1)', entry: (rng) => rng.nextDouble(), exact: false },
    { name: 'integer ties in 0..2', entry: (rng) => rng.nextInt(3), exact: true },
    { name: 'integer ties in -3..3 (negatives)', entry: (rng) => rng.nextInt(7) - 3, exact: true },
    { name: 'negative reals', entry: (rng) => -100 * rng.nextDouble(), exact: false },
    // Multiples of 1e12 up to 1e15: every partial sum of <= 8 entries is an integer below 2^53, so exact.
    { name: 'huge magnitudes (1e15)', entry: (rng) => (rng.nextInt(2001) - 1000) * 1e12, exact: true },
    // A huge offset on some entries plus small integers: the small part must still be optimised exactly.
    { name: 'huge offsets with small ties', entry: (rng) => rng.nextInt(2) * 1e15 + rng.nextInt(4), exact: true },
  ];
  for (const family of families) {
    for (const maximize of [false, true]) {
      it(`${family.name}, maximize=${maximize}: optimal total on every shape up to 8x6 / 6x8`, () => {
        const rng = new Mulberry32(family.name.length * 7919 + (maximize ? 1 : 0));
        for (const [rows, cols] of SHAPES) {
          for (let trial = 0; trial < 6; trial++) {
            const cost = randomMatrix(rng, rows, cols, () => family.entry(rng));
            const [r, c] = linearSumAssignment(cost, maximize);
            const total = checkedTotal(cost, r, c);
            const expected = bruteForceTotal(cost, maximize);
            if (family.exact) {
              expect(total, `${rows}x${cols} ${JSON.stringify(cost)}`).toBe(expected);
            } else {
              const scale = Math.max(1, ...cost.flat().map(Math.abs));
              expect(Math.abs(total - expected), `${rows}x${cols} ${JSON.stringify(cost)}`).toBeLessThanOrEqual(1e-9 * scale);
            }
          }
        }
      });
    }
  }

  for (const maximize of [false, true]) {
    it(`repeated rows / columns (one-to-many matching tiles the cost k times), maximize=${maximize}`, () => {
      const rng = new Mulberry32(maximize ? 8081 : 8080);
      for (let trial = 0; trial < 60; trial++) {
        // base [queries, gts], tiled k times along columns as H-DETR / Align-DETR do; integer or real.
        const gts = 1 + rng.nextInt(3);
        const k = 2 + rng.nextInt(2);
        const queries = Math.max(gts * k, 2 + rng.nextInt(7));
        const integer = trial % 2 === 0;
        const base = randomMatrix(rng, queries, gts, () => (integer ? rng.nextInt(4) : rng.nextDouble()));
        const tiled = base.map((row) => Array.from({ length: gts * k }, (_, c) => row[c % gts]));
        for (const cost of [tiled, tiled[0].map((_, c) => tiled.map((row) => row[c]))]) {
          const [r, c] = linearSumAssignment(cost, maximize);
          const expected = bruteForceTotal(cost, maximize);
          expect(Math.abs(checkedTotal(cost, r, c) - expected), JSON.stringify(cost)).toBeLessThanOrEqual(integer ? 0 : 1e-12);
        }
      }
    });
  }

  it('entries near the float64 limit (±1e308) neither overflow nor loop, and stay optimal', () => {
    const rng = new Mulberry32(4242);
    const values = [-1.7e308, -1e308, -0.5e308, 0, 0.5e308, 1e308, 1.7e308];
    const matrices = [
      // Reduced costs of these overflow to -Infinity without the solver's power-of-two rescaling.
      [[-0.5e308, 0, 1e308, -0.5e308], [-1e308, 1.7e308, 1e308, 0.5e308], [0, 1.7e308, -1.7e308, 1e308], [-1e308, 1.7e308, -1.7e308, 0]],
      [[0, 1e308, 1.7e308, 0.5e308], [1.7e308, 0.5e308, 1.7e308, -1.7e308], [1.7e308, -1.7e308, -1.7e308, -0.5e308], [-1e308, 0.5e308, 0.5e308, 1.7e308]],
    ];
    for (let trial = 0; trial < 60; trial++) {
      matrices.push(randomMatrix(rng, 1 + rng.nextInt(5), 1 + rng.nextInt(5), () => values[rng.nextInt(values.length)]));
    }
    for (const cost of matrices) {
      // Compare in a scaled copy (exact power-of-two scaling) so that brute-force sums cannot overflow.
      const scaled = cost.map((row) => row.map((x) => x * 2 ** -200));
      for (const maximize of [false, true]) {
        const [r, c] = linearSumAssignment(cost, maximize);
        const expected = bruteForceTotal(scaled, maximize);
        expect(Math.abs(checkedTotal(scaled, r, c) - expected), JSON.stringify(cost)).toBeLessThanOrEqual(1e-12 * 1.7e308 * 2 ** -200);
      }
    }
  });
});

describe('linearSumAssignment edge cases', () => {
  it('empty matrices give empty results', () => {
    expect(linearSumAssignment([])).toEqual([[], []]);
    expect(linearSumAssignment([[], [], []])).toEqual([[], []]);
    const [r, c] = linearSumAssignmentFlat(new Float64Array(0), 0, 5);
    expect([r.length, c.length]).toEqual([0, 0]);
    const [r2, c2] = linearSumAssignmentFlat(new Float64Array(0), 4, 0);
    expect([r2.length, c2.length]).toEqual([0, 0]);
  });

  it('1xN picks the cheapest column and Nx1 the cheapest row', () => {
    expect(linearSumAssignment([[3, 1, 2, -0.5, 4]])).toEqual([[0], [3]]);
    expect(linearSumAssignment([[3], [1], [2], [-0.5], [4]])).toEqual([[3], [0]]);
    expect(linearSumAssignment([[3, 1, 2, -0.5, 4]], true)).toEqual([[0], [4]]);
    expect(linearSumAssignment([[3], [1], [2], [-0.5], [4]], true)).toEqual([[4], [0]]);
  });

  it('all-equal costs give a valid assignment of the right total, also at scale (no livelock on ties)', () => {
    for (const [rows, cols] of [[5, 5], [3, 9], [9, 3], [200, 200], [900, 100]]) {
      const cost = Array.from({ length: rows }, () => new Array<number>(cols).fill(7));
      const [r, c] = linearSumAssignment(cost);
      expect(checkedTotal(cost, r, c)).toBe(7 * Math.min(rows, cols));
    }
  });

  it('-0 is treated as 0', () => {
    const cost = [[-0, 0, 1], [0, -0, 1]];
    const [r, c] = linearSumAssignment(cost);
    expect(checkedTotal(cost, r, c)).toBe(0);
  });

  it('the flat entry point agrees with the array one and returns Int32Arrays', () => {
    const rng = new Mulberry32(77);
    const cost = randomMatrix(rng, 7, 4, () => rng.nextDouble());
    const [r, c] = linearSumAssignmentFlat(Float64Array.from(cost.flat()), 7, 4);
    expect(r).toBeInstanceOf(Int32Array);
    expect(c).toBeInstanceOf(Int32Array);
    expect([Array.from(r), Array.from(c)]).toEqual(linearSumAssignment(cost));
  });

  it('does not modify its input', () => {
    const flat = Float64Array.from([4, 1, 3, 2, 0, 5, 3, 2, 2]);
    const copy = flat.slice();
    linearSumAssignmentFlat(flat, 3, 3, true);
    linearSumAssignmentFlat(flat, 3, 3);
    expect(flat).toEqual(copy);
  });
});

describe('linearSumAssignment rejects bad input', () => {
  it('names the row and column of NaN and ±Infinity', () => {
    expect(() => linearSumAssignment([[1, 2, 3], [4, 5, NaN]])).toThrow(/cost\[1\]\[2\] is NaN.*row 1, column 2/);
    expect(() => linearSumAssignment([[1, Infinity], [4, 5]])).toThrow(/cost\[0\]\[1\] is Infinity/);
    expect(() => linearSumAssignment([[1], [2], [-Infinity]])).toThrow(/cost\[2\]\[0\] is -Infinity/);
    expect(() => linearSumAssignmentFlat(Float64Array.from([0, 1, 2, NaN]), 2, 2, true)).toThrow(/cost\[1\]\[1\] is NaN/);
  });

  it('rejects ragged rows, non-numbers and mismatched shapes', () => {
    expect(() => linearSumAssignment([[1, 2], [3]])).toThrow(/cost\[1\] has 1 columns, expected 2/);
    expect(() => linearSumAssignment([[1, 2], ['3' as unknown as number, 4]])).toThrow(/cost\[1\]\[0\] is string/);
    expect(() => linearSumAssignmentFlat(new Float64Array(5), 2, 3)).toThrow(/5 entries, expected .*2 x 3 = 6/);
    expect(() => linearSumAssignmentFlat(new Float64Array(6), 2.5, 3)).toThrow(/non-negative integers/);
    expect(() => linearSumAssignmentFlat([1, 2] as unknown as Float64Array, 1, 2)).toThrow(/Float64Array/);
  });
});
