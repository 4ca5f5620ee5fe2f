import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { linearSumAssignmentFlat } from '../src/linear_sum_assignment';
import { checksum, generateMatrix, type MatrixKind } from './fixtures/lsa/generator';

// Held-out matrices solved by scipy.optimize.linear_sum_assignment (fixtures/lsa/make_reference.py).
interface ReferenceCase {
  kind: MatrixKind;
  seed: number;
  rows: number;
  cols: number;
  maximize: boolean;
  checksum: number;
  total: number;
  unique: boolean;
  rowIndices: number[];
  colIndices: number[];
}
const reference = JSON.parse(
  readFileSync(new URL('./fixtures/lsa/scipy_reference.json', import.meta.url), 'utf8'),
) as { scipy: string; cases: ReferenceCase[] };

describe(`linearSumAssignmentFlat against scipy ${reference.scipy}`, () => {
  it('has the reference cases', () => {
    expect(reference.cases.length).toBeGreaterThanOrEqual(10);
  });
  for (const ref of reference.cases) {
    it(`${ref.kind} ${ref.rows}x${ref.cols} (seed ${ref.seed}, maximize=${ref.maximize})`, () => {
      const { cost } = generateMatrix(ref.kind, ref.seed, ref.rows, ref.cols);
      expect(checksum(cost), 'generator differs from make_reference.py').toBe(ref.checksum);
      const [r, c] = linearSumAssignmentFlat(cost, ref.rows, ref.cols, ref.maximize);
      const size = Math.min(ref.rows, ref.cols);
      expect(r.length).toBe(size);
      expect(new Set(c).size).toBe(size);
      let total = 0;
      for (let k = 0; k < size; k++) {
        if (k > 0) expect(r[k]).toBeGreaterThan(r[k - 1]);
        total += cost[r[k] * ref.cols + c[k]];
      }
      expect(Math.abs(total - ref.total)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(ref.total)));
      if (ref.unique) {
        expect(Array.from(r)).toEqual(ref.rowIndices);
        expect(Array.from(c)).toEqual(ref.colIndices);
      }
    });
  }
});
