import { describe, expect, it } from 'vitest';
import { COCO, COCOeval, type CocoDataset, type CocoDetection } from '../src/index';

/**
 * A case small enough to work out on paper (the same data as fixtures/hand.*.json, whose pycocotools numbers
 * parity.test.ts checks). Category 3:
 *   image 10: gt 1 [0,0,10,10], gt 2 [20,0,10,10] (areas 100 → "small")
 *             d1 [0,0,10,10] 0.9 (IoU 1 with gt 1), d2 the same box, same score (a duplicate: stable order puts it
 *             after d1, so it is a false positive), d3 [20,0,10,5] 0.8 (IoU with gt 2 exactly 0.5), d4 0.7 (no overlap)
 *   image 5:  a crowd region [0,0,100,100]; d5 [10,10,20,20] 0.95 lies inside it: intersection over the
 *             detection's area is 1, so d5 matches the crowd and is ignored
 *   image 7:  empty.   Category 1: no ground truth, one detection → -1 everywhere.
 * Ranked detections: d5 (ignored), d1 TP, d2 FP, d3 TP only at IoU 0.50, d4 FP; 2 regular ground truths.
 *   IoU 0.50: tp 0,1,1,2,2  fp 0,0,1,1,2 → recall .5,.5,1,1 … precision envelope 1,1,2/3,2/3,1/2:
 *             recall points 0..0.50 (51) give 1, 0.51..1.00 (50) give 2/3 → AP50 = (51 + 50·2/3) / 101
 *   IoU ≥ 0.55: only d1 → recall ≤ .5: 51 points give 1, the rest 0 → 51/101
 *   AP = (AP50 + 9 · 51/101) / 10.  Every box is small, so APs = AP; no medium / large ground truth → -1.
 *   AR1: top-1 per image is d5 (ignored) and d1 → recall .5 at every IoU. AR10 = AR100 = (1 + 9 · .5) / 10.
 */
const gt: CocoDataset = {
  images: [{ id: 10 }, { id: 5 }, { id: 7 }],
  categories: [{ id: 3, name: 'a' }, { id: 1, name: 'b' }],
  annotations: [
    { id: 1, image_id: 10, category_id: 3, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 2, image_id: 10, category_id: 3, bbox: [20, 0, 10, 10], area: 100, iscrowd: 0 },
    { id: 3, image_id: 5, category_id: 3, bbox: [0, 0, 100, 100], area: 10000, iscrowd: 1 },
  ],
};
const dets: CocoDetection[] = [
  { image_id: 10, category_id: 3, bbox: [0, 0, 10, 10], score: 0.9 },
  { image_id: 10, category_id: 3, bbox: [0, 0, 10, 10], score: 0.9 },
  { image_id: 10, category_id: 3, bbox: [20, 0, 10, 5], score: 0.8 },
  { image_id: 10, category_id: 3, bbox: [50, 50, 10, 10], score: 0.7 },
  { image_id: 5, category_id: 3, bbox: [10, 10, 20, 20], score: 0.95 },
  { image_id: 10, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 },
];

describe('COCOeval on a hand-computed case', () => {
  const cocoGt = new COCO(gt);
  const E = new COCOeval(cocoGt, cocoGt.loadRes(dets));
  E.evaluate();
  E.accumulate();
  const stats = E.summarize(null);

  it('gives the worked-out stats', () => {
    const ap50 = (51 + 50 * (2 / 3)) / 101;
    const ap = (ap50 + 9 * (51 / 101)) / 10;
    const ar = (1 + 9 * 0.5) / 10;
    const expected = [ap, ap50, 51 / 101, ap, -1, -1, 0.5, ar, ar, ar, -1, -1];
    stats.forEach((v, i) => expect(v, `stat ${i}`).toBeCloseTo(expected[i], 12));
  });

  it('reports the duplicate as unmatched and the crowd-covered detection as ignored', () => {
    const e = E.evaluateImg(10, 3, [0, 1e10], 100)!;
    expect(e.dtIds).toEqual([1, 2, 3, 4]); // ids from loadRes: index + 1; d1 before d2 on the score tie
    expect(e.dtMatches[0]).toEqual([1, 0, 2, 0]); // IoU 0.50: d3 takes gt 2 with IoU exactly 0.5
    expect(e.dtMatches[1]).toEqual([1, 0, 0, 0]); // IoU 0.55: it does not
    const crowd = E.evaluateImg(5, 3, [0, 1e10], 100)!;
    expect(crowd.gtIgnore).toEqual([1]);
    expect(crowd.dtMatches.every((row) => row[0] === 3)).toBe(true);
    expect(crowd.dtIgnore.every((row) => row[0] === 1)).toBe(true);
    expect(E.evaluateImg(7, 3, [0, 1e10], 100)).toBeNull();
  });

  it('computes crowd IoU as intersection over the detection area', () => {
    expect(E.computeIoU(5, 3)).toEqual([[1]]);
    expect(E.computeIoU(10, 3)[2]).toEqual([0, 0.5]);
  });

  it('gives -1 per category without ground truth and the category stats otherwise', () => {
    const perCat = E.perCategory();
    expect(perCat.map((c) => c.categoryId)).toEqual([1, 3]);
    expect(perCat[0].stats.every((v) => v === -1)).toBe(true);
    perCat[1].stats.forEach((v, i) => expect(v).toBeCloseTo(stats[i], 12));
  });

  it('prints the 12 pycocotools lines', () => {
    const lines = E.summaryLines();
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.538');
    expect(lines[1]).toBe(' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.835');
    expect(lines[4]).toBe(' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000');
    expect(lines[6]).toBe(' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.500');
  });

  it('pools categories with useCats=false', () => {
    const P = new COCOeval(cocoGt, cocoGt.loadRes(dets));
    P.params.useCats = false;
    P.evaluate();
    P.accumulate();
    // pooled: the category-1 detection (0.5) joins image 10 and overlaps gt 1 after d1/d2 took it: one more FP at
    // the end, which changes no precision sample (it comes after full recall at 0.50 and after recall .5 otherwise)
    const pooled = P.summarize(null);
    stats.forEach((v, i) => expect(pooled[i]).toBeCloseTo(v, 12));
    expect(P.evaluateImg(10, 999, [0, 1e10], 100)!.dtIds).toEqual([1, 2, 3, 4, 6]);
  });
});
