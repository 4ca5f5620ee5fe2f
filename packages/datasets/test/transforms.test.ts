import { Rng } from '@detr/core';
import { instantiate, L, resolvePart } from '@detr/registry';
import { describe, expect, it } from 'vitest';
import {
  applyTransforms,
  AugmentationList,
  cropSample,
  detrTestTransforms,
  detrTrainTransforms,
  flipSampleHorizontal,
  RandomChoice,
  RandomCrop,
  RandomFlip,
  ResizeShortestEdge,
  resizeSample,
  shortestEdgeSize,
  type DetectionSample,
  type Transform,
} from '../src/index';

/** A sample whose box i is painted (channel 0 = 10 * (i + 1)) on a zero background, so boxes can be read back from pixels. */
function paintedSample(h: number, w: number, boxes: number[][]): DetectionSample {
  const data = new Uint8Array(h * w * 3);
  boxes.forEach(([x0, y0, x1, y1], i) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[(y * w + x) * 3] = 10 * (i + 1);
  });
  // a marker pixel that tells orientation apart
  data[1] = 255;
  return {
    imageId: 7, fileName: 'painted.png', image: { data, height: h, width: w, channels: 3 },
    boxes: Float32Array.from(boxes.flat()), labels: Int32Array.from(boxes.map((_, i) => i)), origSize: [h, w],
  };
}

/** Extent [x0, y0, x1, y1) of the pixels painted with box i's value, or null. */
function paintedExtent(s: DetectionSample, i: number): number[] | null {
  const { data, height: h, width: w } = s.image;
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (data[(y * w + x) * 3] === 10 * (i + 1)) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

const always = (t: Transform): Transform => t;

describe('RandomFlip', () => {
  const sample = paintedSample(20, 30, [[2, 3, 9, 11], [20, 0, 30, 20], [0, 15, 1, 20]]);

  it('moves boxes with the pixels (x -> w - x)', () => {
    const f = flipSampleHorizontal(sample);
    for (let i = 0; i < 3; i++) expect(Array.from(f.boxes.subarray(i * 4, i * 4 + 4))).toEqual(paintedExtent(f, i));
    expect(Array.from(f.boxes.subarray(0, 4))).toEqual([30 - 9, 3, 30 - 2, 11]);
    expect(f.image.data[(0 * 30 + 29) * 3 + 1]).toBe(255); // marker moved from (0,0) to (0,29)
  });

  it('flipping twice is the identity (pixels exactly, boxes to float32 precision)', () => {
    const odd = { ...sample, boxes: Float32Array.from([0.1, 1.7, 13.3, 9.9, 20.25, 0, 29.9, 19.5, 0, 15, 1, 20]) };
    const twice = flipSampleHorizontal(flipSampleHorizontal(odd));
    expect(Array.from(twice.image.data)).toEqual(Array.from(odd.image.data));
    twice.boxes.forEach((v, k) => expect(Math.abs(v - odd.boxes[k])).toBeLessThan(1e-5));
    expect(Array.from(twice.labels)).toEqual(Array.from(odd.labels));
  });

  it('flips with the given probability; prob 0 never, prob 1 always', () => {
    const rng = new Rng(3);
    let flipped = 0;
    const t = new RandomFlip({ prob: 0.5 });
    for (let k = 0; k < 2000; k++) if (t.apply(sample, rng) !== sample) flipped++;
    expect(Math.abs(flipped - 1000)).toBeLessThan(4 * Math.sqrt(2000 * 0.25)); // 4 sigma
    expect(new RandomFlip({ prob: 0 }).apply(sample, rng)).toBe(sample);
    expect(new RandomFlip({ prob: 1 }).apply(sample, rng)).not.toBe(sample);
  });

  it('vertical flip moves boxes with the pixels', () => {
    const f = new RandomFlip({ prob: 1, horizontal: false, vertical: true }).apply(sample, new Rng(0));
    for (let i = 0; i < 3; i++) expect(Array.from(f.boxes.subarray(i * 4, i * 4 + 4))).toEqual(paintedExtent(f, i));
  });

  it('rejects both / neither direction', () => {
    expect(() => new RandomFlip({ horizontal: true, vertical: true })).toThrow(/both/);
    expect(() => new RandomFlip({ horizontal: false })).toThrow(/one of/);
  });
});

describe('crop', () => {
  // box 0 inside, box 1 partly outside the crop on the right and bottom, box 2 entirely outside
  const sample = paintedSample(40, 50, [[12, 10, 20, 18], [25, 20, 45, 39], [0, 0, 5, 5]]);

  it('shifts, clips to the crop and drops boxes left without area, consistent with the pixels', () => {
    const c = cropSample(sample, 10, 8, 25, 22); // crop x 10..35, y 8..30
    expect(c.image.width).toBe(25);
    expect(c.image.height).toBe(22);
    expect(Array.from(c.labels)).toEqual([0, 1]);
    expect(Array.from(c.boxes)).toEqual([2, 2, 10, 10, 15, 12, 25, 22]);
    expect(paintedExtent(c, 0)).toEqual([2, 2, 10, 10]);
    expect(paintedExtent(c, 1)).toEqual([15, 12, 25, 22]);
    expect(paintedExtent(c, 2)).toBeNull();
  });

  it('RandomCrop absolute_range: sizes uniform over [min(h, a), min(h, b)], every crop consistent with its pixels', () => {
    const t = new RandomCrop({ crop_type: 'absolute_range', crop_size: [15, 30] });
    const rng = new Rng(11);
    const heights = new Set<number>(), widths = new Set<number>();
    for (let k = 0; k < 400; k++) {
      const c = t.apply(sample, rng);
      heights.add(c.image.height);
      widths.add(c.image.width);
      for (let i = 0; i < c.labels.length; i++) {
        expect(Array.from(c.boxes.subarray(i * 4, i * 4 + 4))).toEqual(paintedExtent(c, c.labels[i]));
      }
      // every painted box still visible in the crop is kept
      for (let j = 0; j < 3; j++) if (paintedExtent(c, j)) expect(Array.from(c.labels)).toContain(j);
    }
    expect(Math.min(...heights)).toBe(15);
    expect(Math.max(...heights)).toBe(30);
    expect(heights.size).toBe(16);
    expect(widths.size).toBe(16);
  });

  it('RandomCrop never asks for more than the image (crop_size beyond the image)', () => {
    const t = new RandomCrop({ crop_type: 'absolute_range', crop_size: [384, 600] });
    const c = t.apply(sample, new Rng(1));
    expect([c.image.height, c.image.width]).toEqual([40, 50]);
  });

  it('rejects bad crop options', () => {
    expect(() => new RandomCrop({ crop_type: 'absolute_range', crop_size: [30, 15] })).toThrow(/min, max/);
    expect(() => new RandomCrop({ crop_type: 'nope' as 'absolute', crop_size: [1, 2] })).toThrow(/crop_type/);
  });
});

describe('ResizeShortestEdge', () => {
  it('rounds like detectron2 (int(x + 0.5)) and caps the long side at max_size', () => {
    // hand-computed: 480x640 -> short 800: 800 x 1066.67 -> 800 x 1067
    expect(shortestEdgeSize(480, 640, 800, 1333)).toEqual([800, 1067]);
    // 427x640 -> 800 x 1199.06 -> 1199
    expect(shortestEdgeSize(427, 640, 800, 1333)).toEqual([800, 1199]);
    // 100x1000 -> 800 x 8000 capped: scale 1333/8000 -> 133.3 x 1333
    expect(shortestEdgeSize(100, 1000, 800, 1333)).toEqual([133, 1333]);
    // portrait: 640x480 -> 1067 x 800
    expect(shortestEdgeSize(640, 480, 800)).toEqual([1067, 800]);
    // square
    expect(shortestEdgeSize(128, 128, 96, 160)).toEqual([96, 96]);
  });

  it('scales boxes by new_w / w and new_h / h', () => {
    const s = paintedSample(30, 40, [[4, 6, 20, 18]]);
    const r = resizeSample(s, 45, 60);
    expect(Array.from(r.boxes)).toEqual([6, 9, 30, 27]);
    expect([r.image.height, r.image.width]).toEqual([45, 60]);
  });

  it("'choice' draws from the list, 'range' from the closed interval", () => {
    const s = paintedSample(30, 40, [[4, 6, 20, 18]]);
    const rng = new Rng(5);
    const choice = new ResizeShortestEdge({ short_edge_length: [20, 33, 47], sample_style: 'choice' });
    const seen = new Set<number>();
    for (let k = 0; k < 60; k++) seen.add(choice.apply(s, rng).image.height);
    expect([...seen].sort((a, b) => a - b)).toEqual([20, 33, 47]);
    const range = new ResizeShortestEdge({ short_edge_length: [20, 24], sample_style: 'range' });
    const seenR = new Set<number>();
    for (let k = 0; k < 100; k++) seenR.add(range.apply(s, rng).image.height);
    expect([...seenR].sort((a, b) => a - b)).toEqual([20, 21, 22, 23, 24]);
  });

  it('rejects bad options', () => {
    expect(() => new ResizeShortestEdge({ short_edge_length: [10, 20, 30], sample_style: 'range' })).toThrow(/range/);
    expect(() => new ResizeShortestEdge({ short_edge_length: [10.5], sample_style: 'choice' })).toThrow(/integer/);
  });
});

describe('composition and recipes', () => {
  it('RandomChoice picks branches with the given probabilities', () => {
    const a = always({ apply: (s) => ({ ...s, imageId: 1 }) });
    const b = always({ apply: (s) => ({ ...s, imageId: 2 }) });
    const t = new RandomChoice({ choices: [a, b], probs: [0.25, 0.75] });
    const rng = new Rng(9);
    const s = paintedSample(4, 4, []);
    let ones = 0;
    for (let k = 0; k < 4000; k++) if (t.apply(s, rng).imageId === 1) ones++;
    expect(Math.abs(ones - 1000)).toBeLessThan(4 * Math.sqrt(4000 * 0.25 * 0.75));
    expect(() => new RandomChoice({ choices: [a, b], probs: [0.5, 0.6] })).toThrow(/sum/);
  });

  it('AugmentationList applies in order', () => {
    const log: number[] = [];
    const step = (k: number) => always({ apply: (s) => (log.push(k), s) });
    new AugmentationList([step(1), step(2), step(3)]).apply(paintedSample(2, 2, []), new Rng(0));
    expect(log).toEqual([1, 2, 3]);
  });

  it('detrTrainTransforms: outputs obey the recipe sizes, boxes stay inside and match the painted pixels after flip/crop', () => {
    const short = [96, 112, 128, 144, 160];
    const tfms = detrTrainTransforms({ short_edge_length: short, max_size: 200, crop_pre_resize: [80, 100, 120], crop_size: [77, 120] });
    const s = paintedSample(100, 130, [[10, 10, 40, 50], [90, 60, 130, 100], [60, 5, 70, 15]]);
    const rng = new Rng(2024);
    for (let k = 0; k < 60; k++) {
      const out = applyTransforms(s, tfms, rng);
      const { height: h, width: w } = out.image;
      expect(Math.max(h, w)).toBeLessThanOrEqual(200);
      if (Math.max(h, w) < 200) expect(short).toContain(Math.min(h, w));
      for (let i = 0; i < out.labels.length; i++) {
        const [x0, y0, x1, y1] = out.boxes.subarray(i * 4, i * 4 + 4);
        expect(x0).toBeGreaterThanOrEqual(0);
        expect(y0).toBeGreaterThanOrEqual(0);
        expect(x1).toBeLessThanOrEqual(w);
        expect(y1).toBeLessThanOrEqual(h);
        expect(x1 - x0).toBeGreaterThan(1e-5);
        expect(y1 - y0).toBeGreaterThan(1e-5);
      }
    }
  });

  it('detrTrainTransforms({ scale }) scales the COCO sizes; detrTestTransforms defaults to 800 / 1333', () => {
    const t = detrTrainTransforms({ scale: 0.2 });
    const choice = t[1] as RandomChoice;
    const plain = (choice.choices[0] as AugmentationList).augmentations[0] as ResizeShortestEdge;
    expect(plain.shortEdgeLength).toEqual([96, 102, 109, 115, 122, 128, 134, 141, 147, 154, 160]);
    expect(plain.maxSize).toBe(267);
    const crop = (choice.choices[1] as AugmentationList).augmentations[1] as RandomCrop;
    expect(crop.cropSize).toEqual([77, 120]);
    const test = detrTestTransforms()[0] as ResizeShortestEdge;
    expect([test.shortEdgeLength, test.maxSize]).toEqual([[800, 800], 1333]);
  });

  it('transforms are registered and build from lazy configs with detectron2 argument names', () => {
    expect(resolvePart('transform/random_flip')).toBe(RandomFlip);
    expect(resolvePart('transform/resize_shortest_edge')).toBe(ResizeShortestEdge);
    expect(resolvePart('transform/random_crop')).toBe(RandomCrop);
    const built = instantiate<Transform[]>(L('transform/detr_train')({ scale: 0.2 }));
    expect(built[0]).toBeInstanceOf(RandomFlip);
    const crop = instantiate<RandomCrop>(L('transform/random_crop')({ crop_type: 'absolute_range', crop_size: [10, 20] }));
    expect(crop.cropSize).toEqual([10, 20]);
  });

  it('applyTransforms drops boxes that end up without area', () => {
    const s = paintedSample(10, 10, [[2, 2, 5, 5]]);
    const squash = always({ apply: (x) => ({ ...x, boxes: Float32Array.from([2, 2, 2, 5]) }) });
    expect(applyTransforms(s, [squash], new Rng(0)).labels.length).toBe(0);
  });
});
