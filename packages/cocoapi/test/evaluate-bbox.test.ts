import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { evaluateBbox, type CocoDataset, type CocoDetection } from '../src/index';
import { FIXTURES, referenceCase } from './reference-cases';

interface SubsetRun {
  imgIds: number[];
  catIds: number[];
  stats: number[];
  per_category: Record<string, number[]>;
}

it('evaluateBbox on in-memory data with user-set imgIds / catIds matches pycocotools', () => {
  const c = referenceCase('random_small');
  const { subset } = JSON.parse(readFileSync(`${FIXTURES}random_small.expected.json`, 'utf8')) as { subset: SubsetRun };
  const gt = JSON.parse(readFileSync(c.gtPath, 'utf8')) as CocoDataset;
  const dets = JSON.parse(readFileSync(c.dtPath, 'utf8')) as CocoDetection[];
  const detsBefore = JSON.stringify(dets);
  const allImgIds = gt.images.map((im) => im.id).sort((a, b) => a - b);
  // the same choice as make_reference.py: every other image, one id that is not an image, categories unsorted with a repeat
  const printed: string[] = [];
  const result = evaluateBbox(gt, dets, {
    imgIds: [...allImgIds.filter((_, i) => i % 2 === 0), 123456789],
    catIds: [90, 7, 1, 1],
    print: (line) => printed.push(line),
  });
  expect(printed).toEqual(result.summary);
  result.stats.forEach((v, i) => expect(Math.abs(v - subset.stats[i]), `stat ${i}`).toBeLessThanOrEqual(1e-6));
  expect(result.perCategory.map((p) => p.categoryId)).toEqual(subset.catIds);
  for (const p of result.perCategory) {
    p.stats.forEach((v, i) => expect(Math.abs(v - subset.per_category[String(p.categoryId)][i])).toBeLessThanOrEqual(1e-6));
  }
  expect(result.unknownCategoryIds).toEqual([999]);
  expect(JSON.stringify(dets)).toBe(detsBefore); // the caller's detections are not modified
});
