import { describe, expect, it } from 'vitest';
import { COCO, COCOeval } from '../src/index';
import { CASE_NAMES, referenceCase, type ExpectedRun } from './reference-cases';

/** Sums over the recall axis of a [T,R,K,A,M] array, giving [T,K,A,M] like the fixtures' digests. */
function sumOverR(a: Float64Array, [T, R, K, A, M]: number[]): number[] {
  const out = new Array<number>(T * K * A * M).fill(0);
  for (let t = 0; t < T; t++) for (let r = 0; r < R; r++) for (let rest = 0; rest < K * A * M; rest++) {
    out[t * K * A * M + rest] += a[(t * R + r) * K * A * M + rest];
  }
  return out;
}

function expectAllClose(actual: ArrayLike<number>, expected: number[], tol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, pycocotools ${expected[i]} (tolerance ${tol})`);
    }
  }
}

function runCase(name: string, useCats: boolean): { E: COCOeval; expected: ExpectedRun } {
  const c = referenceCase(name);
  const gt = new COCO(c.gtPath);
  const E = new COCOeval(gt, gt.loadRes(c.dtPath), 'bbox');
  E.params.useCats = useCats;
  E.evaluate();
  E.accumulate();
  const expected = useCats ? c.cats : c.pooled;
  if (!expected) throw new Error(`${name}: no pooled reference`);
  return { E, expected };
}

describe.each(CASE_NAMES)('parity with pycocotools: %s', (name) => {
  const variants = referenceCase(name).pooled ? [true, false] : [true];
  it.each(variants)('useCats=%s: stats, summary lines, recall and precision/scores digests', (useCats) => {
    const { E, expected } = runCase(name, useCats);
    const lines = E.summaryLines();
    expectAllClose(E.stats, expected.stats, 1e-6, 'stats');
    expect(lines).toEqual(expected.summary);
    const ev = E.eval!;
    expect(ev.counts.filter((_, i) => i !== 1)).toEqual(expected.recall_shape);
    expectAllClose(ev.recall, expected.recall, 1e-12, 'recall');
    expectAllClose(sumOverR(ev.precision, ev.counts), expected.precision_sum_r, 1e-9, 'precision summed over R');
    expectAllClose(sumOverR(ev.scores, ev.counts), expected.scores_sum_r, 1e-9, 'scores summed over R');
    if (useCats) {
      const perCat = E.perCategory();
      expect(perCat.map((c) => String(c.categoryId)).sort()).toEqual(Object.keys(expected.per_category!).sort());
      for (const c of perCat) expectAllClose(c.stats, expected.per_category![String(c.categoryId)], 1e-6, `category ${c.categoryId}`);
    } else {
      expect(E.perCategory()).toEqual([]);
    }
  });

  it.each(variants)('useCats=%s: stats and per-category stats are bit-identical (same double operations as numpy)', (useCats) => {
    const { E, expected } = runCase(name, useCats);
    expect(E.summarize(null)).toEqual(expected.stats);
    if (useCats) for (const c of E.perCategory()) expect(c.stats).toEqual(expected.per_category![String(c.categoryId)]);
  });

  const withEvalImgs = referenceCase(name).cats.evalImgs;
  if (withEvalImgs) {
    it('evaluateImg records equal pycocotools evalImgs', () => {
      const { E, expected } = runCase(name, true);
      for (const want of expected.evalImgs!) {
        const got = E.evaluateImg(want.image_id, want.category_id, want.aRng, want.maxDet);
        expect(got, `image ${want.image_id} category ${want.category_id} aRng ${want.aRng}`).toEqual(want);
      }
      // every cell pycocotools reports as None is null here too
      const reported = new Set(expected.evalImgs!.map((e) => `${e.image_id}/${e.category_id}`));
      for (const imgId of E.params.imgIds) for (const catId of E.params.catIds) {
        if (!reported.has(`${imgId}/${catId}`)) expect(E.evaluateImg(imgId, catId, [0, 1e10], 100)).toBeNull();
      }
    });
  }
});

it('default thresholds are numpy linspace values exactly', () => {
  const c = referenceCase('hand');
  const gt = new COCO(c.gtPath);
  const E = new COCOeval(gt, gt.loadRes(c.dtPath));
  expect(E.params.iouThrs).toEqual(c.cats.iouThrs);
  expect(E.params.recThrs).toEqual(c.cats.recThrs);
});
