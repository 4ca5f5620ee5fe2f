/**
 * The misalignment metrics on constructed cases with known answers: perfectly aligned outputs (the
 * confidence grows linearly with the IoU) give BR recall 1 and Pearson 1, anti-aligned ones recall 0
 * and Pearson -1, and a small hand-worked image checks every definition (BR sample, ranks with ties,
 * top-N / top-2N, HC samples in both confidence modes, matched confidence and IoU).
 */
import { describe, expect, it } from 'vitest';
import {
  AlignmentAccumulator,
  bestRegressedSamples,
  countRecalledAtK,
  descendingRanks,
  matchedSamples,
  meanStd,
  pairwiseIouCxcywh,
  pearson,
  quantileSorted,
  rankOf,
  summarizeDistribution,
  type ImagePredictions,
  type ImageTargets,
} from '../src/index';

const logit = (p: number) => Math.log(p / (1 - p));

describe('pairwiseIouCxcywh', () => {
  it('gives hand-computed IoUs (shifted, nested, disjoint, zero-area)', () => {
    const a = [0.5, 0.5, 0.2, 0.2, 0.5, 0.5, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.5, 0.5, 0, 0];
    const b = [0.6, 0.5, 0.2, 0.2, 0.5, 0.5, 0.2, 0.2];
    const iou = pairwiseIouCxcywh(a, 4, b, 2);
    // shifted by half a width: inter 0.1*0.2 = 0.02, union 0.04 + 0.04 - 0.02 = 0.06
    expect(iou[0]).toBeCloseTo(1 / 3, 12);
    expect(iou[1]).toBeCloseTo(1, 12);
    // nested 0.1 box inside the 0.2 box centred at 0.6: box [0.45,0.55] vs [0.5,0.7]: inter 0.05*0.1
    expect(iou[2]).toBeCloseTo((0.05 * 0.1) / (0.01 + 0.04 - 0.005), 12);
    expect(iou[3]).toBeCloseTo(0.25, 12);
    expect(iou[4]).toBe(0);
    expect(iou[5]).toBe(0);
    expect(iou[6]).toBe(0); // zero-area box: intersection 0
    expect(iou[7]).toBe(0);
  });

  it('rejects a box array of the wrong length', () => {
    expect(() => pairwiseIouCxcywh([0.5, 0.5, 0.2], 1, [], 0)).toThrow(/3 values for 1 boxes/);
  });
});

describe('ranks', () => {
  it('ranks by descending score with ties going to the lower index', () => {
    const s = [0.2, 0.9, 0.2, 0.5, 0.9];
    expect(Array.from(descendingRanks(s))).toEqual([3, 0, 4, 2, 1]);
    for (let i = 0; i < s.length; i++) expect(rankOf(s, i)).toBe(descendingRanks(s)[i]);
  });
});

describe('pearson', () => {
  it('matches the textbook value on a small sample', () => {
    // x = 1..4, y = 2,4,5,4: sxy = 3.5, sxx = 5, syy = 4.75 -> r = 3.5 / sqrt(23.75)
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 4])).toBeCloseTo(3.5 / Math.sqrt(23.75), 14);
  });
  it('is 1 / -1 for exact linear relations, unchanged by scaling x (the paper scales confidence to max 1)', () => {
    const x = [0.1, 0.4, 0.35, 0.8, 0.05];
    expect(pearson(x, x.map((v) => 3 * v + 1))).toBeCloseTo(1, 14);
    expect(pearson(x, x.map((v) => -2 * v + 0.5))).toBeCloseTo(-1, 14);
    const y = [0.3, 0.1, 0.9, 0.4, 0.2];
    expect(pearson(x.map((v) => v / 0.8), y)).toBeCloseTo(pearson(x, y)!, 14);
  });
  it('is null when undefined (one pair, constant values)', () => {
    expect(pearson([1], [2])).toBeNull();
    expect(pearson([0.1, 0.1, 0.1], [1, 2, 3])).toBeNull();
    expect(() => pearson([1, 2], [1])).toThrow(/x has 2 values but y has 1/);
  });
});

/**
 * Hand-worked image: GT0 class 0 at (0.3, 0.3, 0.2, 0.2), GT1 class 2 at (0.7, 0.7, 0.2, 0.2).
 * IoU with GT0 / GT1: q0 exact GT0 (1, 0); q1 GT0 shifted 0.05 (0.6, 0); q2 (0.7,0.7,0.2,0.1) inside
 * GT1 (0, 0.5); q3 GT1 shifted 0.05 (0, 0.6); q4 far away (0, 0). BR: GT0 -> q0, GT1 -> q3.
 */
const HAND: { pred: ImagePredictions; target: ImageTargets } = {
  pred: {
    numQueries: 5,
    numClasses: 3,
    boxes: [0.3, 0.3, 0.2, 0.2, 0.35, 0.3, 0.2, 0.2, 0.7, 0.7, 0.2, 0.1, 0.75, 0.7, 0.2, 0.2, 0.5, 0.5, 0.1, 0.1],
    // max logits: q0 -1, q1 2, q2 3, q3 0 (class 1), q4 1
    logits: [-1, -3, -3, 2, -3, -3, -3, -3, 3, -3, 0, -2, 1, -3, -3],
  },
  target: { labels: [0, 2], boxes: [0.3, 0.3, 0.2, 0.2, 0.7, 0.7, 0.2, 0.2] },
};

describe('best-regressed samples on the hand-worked image', () => {
  it('max_class: ranks q2 > q1 > q4 > q3 > q0, so BR ranks are 4 and 3: recall@N 0, recall@2N 1/2', () => {
    const r = bestRegressedSamples(HAND.pred, HAND.target, 'max_class');
    expect(Array.from(r.brQuery)).toEqual([0, 3]);
    expect(r.brIou[0]).toBeCloseTo(1, 12);
    expect(r.brIou[1]).toBeCloseTo(0.6, 12);
    expect(Array.from(r.brRank)).toEqual([4, 3]);
    expect(countRecalledAtK(r, 2)).toBe(0);
    expect(countRecalledAtK(r, 4)).toBe(1);
    // HC: the 2 most confident outputs q2, q1 with their best IoU over the GTs: 0.5, 0.6
    expect(Array.from(r.hcQuery)).toEqual([2, 1]);
    expect(r.hcIou[0]).toBeCloseTo(0.5, 12);
    expect(r.hcIou[1]).toBeCloseTo(0.6, 12);
  });

  it("gt_class: ranks by the GT's class (class-0 tie q2/q3 at -3 goes to q2): BR ranks 2 and 1", () => {
    const r = bestRegressedSamples(HAND.pred, HAND.target, 'gt_class');
    // class 0: q1 2, q4 1, q0 -1, q2 -3, q3 -3 -> q0 rank 2; class 2: q2 3, q3 -2, ... -> q3 rank 1
    expect(Array.from(r.brRank)).toEqual([2, 1]);
    expect(countRecalledAtK(r, 2)).toBe(1);
    expect(countRecalledAtK(r, 4)).toBe(2);
    // HC per GT: GT0 -> q1 (IoU 0.6 with GT0), GT1 -> q2 (IoU 0.5 with GT1)
    expect(Array.from(r.hcQuery)).toEqual([1, 2]);
    expect(r.hcIou[0]).toBeCloseTo(0.6, 12);
    expect(r.hcIou[1]).toBeCloseTo(0.5, 12);
  });

  it('matched samples: confidence of the GT class (or the best class) and IoU of each pair', () => {
    const match = { src: [0, 3], tgt: [0, 1] };
    const g = matchedSamples(HAND.pred, HAND.target, match, 'gt_class');
    expect(g.confidence[0]).toBeCloseTo(1 / (1 + Math.exp(1)), 14);
    expect(g.confidence[1]).toBeCloseTo(1 / (1 + Math.exp(2)), 14);
    expect(g.iou[0]).toBeCloseTo(1, 12);
    expect(g.iou[1]).toBeCloseTo(0.6, 12);
    const m = matchedSamples(HAND.pred, HAND.target, match, 'max_class');
    expect(m.confidence[1]).toBeCloseTo(0.5, 14);
  });

  it('the accumulator pools recall over GTs and averages it over images', () => {
    const acc = new AlignmentAccumulator({ confidence: 'max_class' });
    acc.addImage(HAND.pred, HAND.target, { src: [0, 3], tgt: [0, 1] });
    // a second image: one GT whose BR (q0, exact) is the most confident output
    acc.addImage(
      { numQueries: 2, numClasses: 1, boxes: [0.5, 0.5, 0.2, 0.2, 0.5, 0.5, 0.1, 0.1], logits: [3, -1] },
      { labels: [0], boxes: [0.5, 0.5, 0.2, 0.2] },
    );
    acc.addImage({ numQueries: 1, numClasses: 1, boxes: [0.5, 0.5, 0.2, 0.2], logits: [0] }, { labels: [], boxes: [] });
    const rep = acc.report();
    expect(rep.num_images).toBe(3);
    expect(rep.num_images_with_gt).toBe(2);
    expect(rep.num_gt).toBe(3);
    expect(rep.recall.top_n).toBeCloseTo(1 / 3, 14); // 0 of 2 + 1 of 1
    expect(rep.recall.top_2n).toBeCloseTo(2 / 3, 14); // 1 of 2 + 1 of 1
    expect(rep.recall.per_image_mean.top_n).toBeCloseTo((0 + 1) / 2, 14);
    expect(rep.recall.per_image_mean.top_2n).toBeCloseTo((0.5 + 1) / 2, 14);
    expect(rep.br_iou.count).toBe(3);
    expect(rep.br_iou.mean).toBeCloseTo((1 + 0.6 + 1) / 3, 12);
    expect(rep.hc_iou.mean).toBeCloseTo((0.5 + 0.6 + 1) / 3, 12);
    expect(rep.matched.count).toBe(2); // only the first image came with a match
  });

  it('names the image and field of bad input', () => {
    const acc = new AlignmentAccumulator();
    expect(() => acc.addImage({ ...HAND.pred, logits: Array.from(HAND.pred.logits).slice(1) }, HAND.target, undefined, 'image id 7')).toThrow(/image id 7: logits has 14 values/);
    expect(() => acc.addImage(HAND.pred, { labels: [0, 3], boxes: HAND.target.boxes }, undefined, 'image id 8')).toThrow(/image id 8: target label 1 is 3/);
    expect(() => acc.addImage(HAND.pred, HAND.target, { src: [9], tgt: [0] }, 'image id 9')).toThrow(/image id 9: match pair 0 has query 9/);
    expect(() => new AlignmentAccumulator({ recall_multiples: [1, 3] })).toThrow(/include 1 and 2/);
  });
});

/**
 * Images with N GTs on a grid; per GT, `perGt` queries share the GT's centre with IoU 1, 0.8, 0.6, ...
 * (concentric boxes of side sqrt(IoU) times the GT's); the other queries are background boxes with
 * IoU 0. GTs of an image have distinct classes; a query's probability of its GT's class is conf(IoU),
 * its other classes get -12; background queries have conf(0) in every class.
 */
function constructedImage(n: number, numQueries: number, conf: (iou: number) => number, numClasses = 6) {
  const perGt = 5;
  const ious = [1, 0.8, 0.6, 0.4, 0.2];
  const labels = Array.from({ length: n }, (_, j) => j % numClasses);
  const gtBoxes: number[] = [];
  for (let j = 0; j < n; j++) gtBoxes.push(0.15 + 0.25 * (j % 4), 0.15 + 0.25 * Math.floor(j / 4), 0.12, 0.12);
  const boxes = new Float64Array(numQueries * 4);
  const logits = new Float64Array(numQueries * numClasses).fill(-12);
  const src: number[] = [];
  const tgt: number[] = [];
  let q = 0;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < perGt; i++, q++) {
      const s = 0.12 * Math.sqrt(ious[i]);
      boxes.set([gtBoxes[4 * j], gtBoxes[4 * j + 1], s, s], q * 4);
      logits[q * numClasses + labels[j]] = logit(conf(ious[i]));
      src.push(q);
      tgt.push(j);
    }
  }
  for (; q < numQueries; q++) {
    boxes.set([0.95, 0.95, 0.02, 0.02], q * 4); // outside every GT
    logits.fill(logit(conf(0)), q * numClasses, (q + 1) * numClasses);
  }
  return {
    pred: { logits, boxes, numQueries, numClasses } as ImagePredictions,
    target: { labels, boxes: gtBoxes } as ImageTargets,
    pairs: { src, tgt },
  };
}

describe('aligned and anti-aligned outputs', () => {
  const images = [1, 2, 3, 5].map((n) => n);
  for (const mode of ['max_class', 'gt_class'] as const) {
    it(`aligned (confidence = 0.05 + 0.9 IoU): recall@N = recall@2N = 1, Pearson = 1, HC IoU = BR IoU (${mode})`, () => {
      const acc = new AlignmentAccumulator({ confidence: mode, matched_confidence: mode });
      for (const n of images) {
        const im = constructedImage(n, 40, (iou) => 0.05 + 0.9 * iou);
        acc.addImage(im.pred, im.target, im.pairs);
      }
      const rep = acc.report();
      expect(rep.num_gt).toBe(11);
      expect(rep.recall.top_n).toBe(1);
      expect(rep.recall.top_2n).toBe(1);
      expect(rep.matched.pearson).toBeCloseTo(1, 10);
      expect(rep.br_iou.mean).toBeCloseTo(1, 12);
      expect(rep.hc_iou.mean).toBeCloseTo(1, 12);
      expect(rep.hc_iou.histogram.counts).toEqual(rep.br_iou.histogram.counts);
    });

    it(`anti-aligned (confidence = 0.95 - 0.9 IoU): recall@N = recall@2N = 0, Pearson = -1, HC IoU 0 (${mode})`, () => {
      const acc = new AlignmentAccumulator({ confidence: mode, matched_confidence: mode });
      for (const n of images) {
        const im = constructedImage(n, 40, (iou) => 0.95 - 0.9 * iou);
        acc.addImage(im.pred, im.target, im.pairs);
      }
      const rep = acc.report();
      expect(rep.recall.top_n).toBe(0);
      expect(rep.recall.top_2n).toBe(0);
      expect(rep.matched.pearson).toBeCloseTo(-1, 10);
      expect(rep.br_iou.mean).toBeCloseTo(1, 12);
      // the most confident outputs (in any class, and in each GT's class) are background boxes
      expect(rep.hc_iou.mean).toBe(0);
    });
  }

  it('the recall curve rises to 1 once k covers the anti-aligned BR samples', () => {
    // one GT, 5 own queries ranked worst-first: the BR (IoU 1) is 5th of its group; 35 background
    // queries are more confident, so the BR ranks 39 of 40: recall 0 until k = 40 = 40*N
    const im = constructedImage(1, 40, (iou) => 0.95 - 0.9 * iou);
    const acc = new AlignmentAccumulator({ recall_multiples: [1, 2, 39, 40] });
    acc.addImage(im.pred, im.target);
    expect(acc.report().recall.curve.map((p) => p.recall)).toEqual([0, 0, 0, 1]);
  });
});

describe('distribution and seed statistics', () => {
  it('quantiles interpolate like numpy, histograms bin [lo, hi] with hi in the last bin', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 14);
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 14);
    const s = summarizeDistribution([0, 0.26, 0.5, 0.74, 1], 4);
    expect(s.histogram.counts).toEqual([1, 1, 2, 1]);
    expect(s.median).toBe(0.5);
  });
  it('meanStd uses the sample std (ddof 1) and skips missing values', () => {
    const s = meanStd([2, 4, 4, 4, 5, 5, 7, 9, null]);
    expect(s.n).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.std).toBeCloseTo(Math.sqrt(32 / 7), 14);
    expect(meanStd([3]).std).toBeNull();
  });
});
