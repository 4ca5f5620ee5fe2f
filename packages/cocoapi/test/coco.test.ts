import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COCO, CocoInputError, type CocoDataset } from '../src/index';
import { referenceCase } from './reference-cases';

function dataset(): CocoDataset {
  return {
    images: [{ id: 1 }, { id: 2 }, { id: 3 }],
    categories: [{ id: 5, name: 'cat', supercategory: 'animal' }, { id: 9, name: 'car', supercategory: 'vehicle' }, { id: 11, name: 'cup' }],
    annotations: [
      { id: 10, image_id: 1, category_id: 5, bbox: [0, 0, 10, 10], area: 80, iscrowd: 0 },
      { id: 11, image_id: 2, category_id: 9, bbox: [0, 0, 40, 40], area: 1500, iscrowd: 1 },
      { id: 12, image_id: 1, category_id: 9, bbox: [5, 5, 20, 20], area: 400 },
      { id: 13, image_id: 2, category_id: 5, bbox: [1, 1, 2, 2], area: 4, iscrowd: 0 },
    ],
  };
}

describe('COCO index and queries', () => {
  const coco = new COCO(dataset());
  it('filters annotation ids by image, category, area (strict) and iscrowd', () => {
    expect(coco.getAnnIds()).toEqual([10, 11, 12, 13]);
    expect(coco.getAnnIds({ imgIds: [2, 1] })).toEqual([11, 13, 10, 12]);
    expect(coco.getAnnIds({ imgIds: 1, catIds: [9] })).toEqual([12]);
    expect(coco.getAnnIds({ areaRng: [80, 1500] })).toEqual([12]);
    expect(coco.getAnnIds({ iscrowd: false })).toEqual([10, 12, 13]); // missing iscrowd counts as 0
    expect(coco.getAnnIds({ iscrowd: true })).toEqual([11]);
    expect(coco.getAnnIds({ imgIds: [3] })).toEqual([]); // an image without annotations is normal
  });
  it('filters categories and images', () => {
    expect(coco.getCatIds()).toEqual([5, 9, 11]);
    expect(coco.getCatIds({ catNms: ['car', 'cup'] })).toEqual([9, 11]);
    expect(coco.getCatIds({ supNms: 'animal' })).toEqual([5]);
    expect(coco.getImgIds()).toEqual([1, 2, 3]);
    expect(coco.getImgIds({ catIds: [5, 9] })).toEqual([1, 2]);
    expect(coco.getImgIds({ imgIds: [2, 3], catIds: 9 })).toEqual([2]);
    expect(coco.getImgIds({ catIds: 11 })).toEqual([]); // a category without annotations is normal
  });
  it('loads by id and rejects unknown ids', () => {
    expect(coco.loadAnns([13, 10]).map((a) => a.id)).toEqual([13, 10]);
    expect(coco.loadImgs(3)[0].id).toBe(3);
    expect(coco.loadCats([9])[0].name).toBe('car');
    expect(() => coco.loadAnns(99)).toThrow(/no annotation with id 99/);
  });
  it('loadRes gives bbox results area = w*h, ids 1..N, iscrowd 0, without touching the input', () => {
    const input = [
      { image_id: 2, category_id: 9, bbox: [1, 2, 3.5, 4], score: 0.5 },
      { image_id: 1, category_id: 77, bbox: [0, 0, 2, 2], score: 0.25, extra: 'kept' },
    ];
    const res = coco.loadRes(input);
    expect(res.dataset.annotations.map((a) => [a.id, a.area, a.iscrowd])).toEqual([[1, 14, 0], [2, 4, 0]]);
    expect(res.dataset.annotations[1].extra).toBe('kept');
    expect(input[0]).not.toHaveProperty('area');
    expect(res.getImgIds()).toEqual([1, 2, 3]);
    expect(res.getCatIds()).toEqual([5, 9, 11]);
    expect(res.unknownCategoryIds).toEqual([77]);
    expect(coco.loadRes([]).dataset.annotations).toEqual([]);
    const rows = coco.loadRes([[2, 1, 2, 3, 4, 0.5, 9]]);
    expect(rows.dataset.annotations[0]).toMatchObject({ image_id: 2, category_id: 9, bbox: [1, 2, 3, 4], score: 0.5, area: 12 });
  });
  it('loads files', () => {
    const c = referenceCase('hand');
    const gt = new COCO(c.gtPath);
    expect(gt.source).toBe(c.gtPath);
    expect(gt.loadRes(c.dtPath).dataset.annotations).toHaveLength(6);
  });
});

describe('bad input gives a clear error naming the item', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cocoapi-test-'));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const expectError = (fn: () => unknown, pattern: RegExp) => {
    expect(fn).toThrow(CocoInputError);
    expect(fn).toThrow(pattern);
  };

  it('missing file and invalid JSON', () => {
    expectError(() => new COCO(join(dir, 'nope.json')), /ground-truth file not found: .*nope\.json/);
    expectError(() => new COCO(file('bad.json', '{"images": [')), /ground-truth file .*bad\.json is not valid JSON/);
    const coco = new COCO(dataset());
    expectError(() => coco.loadRes(join(dir, 'missing-dt.json')), /detections file not found: .*missing-dt\.json/);
    expectError(() => coco.loadRes(file('dt.json', '[{"image_id": 1,}]')), /detections file .*dt\.json is not valid JSON/);
    expectError(() => coco.loadRes(file('obj.json', '{"image_id": 1}')), /results must be an array/);
  });
  it('an annotation without bbox, with a bad or negative bbox, without area', () => {
    const d = dataset();
    delete (d.annotations[2] as { bbox?: unknown }).bbox;
    expectError(() => new COCO(d), /annotations\[2\] \(id 12\) has no 'bbox'/);
    const neg = dataset();
    neg.annotations[1].bbox = [0, 0, -4, 10];
    expectError(() => new COCO(neg), /annotations\[1\] \(id 11\) has a negative width or height/);
    const short = dataset();
    short.annotations[0].bbox = [0, 0, 4];
    expectError(() => new COCO(short), /annotations\[0\] \(id 10\) has bbox \[0,0,4\]; expected \[x, y, width, height\]/);
    const noArea = dataset();
    delete (noArea.annotations[3] as { area?: unknown }).area;
    expectError(() => new COCO(noArea), /annotations\[3\] \(id 13\) has area undefined/);
  });
  it('inconsistent ground truth: unknown image or category, repeated ids', () => {
    const d = dataset();
    d.annotations[0].image_id = 42;
    expectError(() => new COCO(d), /annotations\[0\] \(id 10\) has image_id 42, which is not in 'images'/);
    const c = dataset();
    c.annotations[3].category_id = 6;
    expectError(() => new COCO(c), /annotations\[3\] \(id 13\) has category_id 6, which is not in 'categories'/);
    const r = dataset();
    r.annotations[3].id = 10;
    expectError(() => new COCO(r), /annotations\[3\] \(id 10\) repeats an annotation id/);
    expectError(() => new COCO({ ...dataset(), images: [{ id: 1 }, { id: 1 }] }), /images\[1\] repeats id 1/);
    expectError(() => new COCO([] as unknown as CocoDataset), /top level must be a JSON object/);
  });
  it('detections: image not in the ground truth, negative width, missing score or bbox', () => {
    const coco = new COCO(dataset());
    const ok = { image_id: 1, category_id: 5, bbox: [0, 0, 1, 1], score: 0.5 };
    expectError(() => coco.loadRes([ok, { ...ok, image_id: 1234 }]), /detection 1 has image_id 1234, which is not an image of the ground truth/);
    expectError(() => coco.loadRes([{ ...ok, bbox: [0, 0, -1, 3] }]), /detection 0 \(image_id 1\) has a negative width or height in bbox \[0,0,-1,3\]/);
    expectError(() => coco.loadRes([{ ...ok, score: Number.NaN }]), /detection 0 \(image_id 1\) has score null; expected a finite number/);
    const { bbox: _bbox, ...noBox } = ok;
    expectError(() => coco.loadRes([{ ...noBox, segmentation: { size: [1, 1], counts: 'a' } } as never]), /has no 'bbox' \(segmentation results are not supported yet\)/);
    expectError(() => coco.loadRes([[1, 0, 0, 1]]), /row 0 has 4 values; expected 7/);
  });
});
