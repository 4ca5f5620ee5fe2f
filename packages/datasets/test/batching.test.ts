import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collate, DataLoader, disposeBatch, PIXEL_MEAN, PIXEL_STD, RandomFlip, type Batch, type DetectionDataset, type DetectionSample } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Sample i: an h x w image whose pixels are a function of (i, x, y, c), one box, label i % 5. */
function syntheticSample(i: number, h: number, w: number): DetectionSample {
  const data = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (i * 37 + x * 11 + y * 7 + c * 50) % 256;
  return {
    imageId: 100 + i, fileName: `s${i}.png`, image: { data, height: h, width: w, channels: 3 },
    boxes: Float32Array.from([1, 2, Math.min(w, 6 + (i % 3)), Math.min(h, 5 + (i % 4))]), labels: Int32Array.from([i % 5]), origSize: [h + 1, w + 2],
  };
}

class SyntheticDataset implements DetectionDataset {
  gets = 0;
  constructor(readonly sizes: [number, number][]) {}
  get length() {
    return this.sizes.length;
  }
  get(i: number) {
    this.gets++;
    return syntheticSample(i, ...this.sizes[i]);
  }
}

describe('collate', () => {
  const samples = [syntheticSample(0, 5, 7), syntheticSample(1, 8, 4), syntheticSample(2, 3, 3)];

  it('normalises, pads bottom/right with zeros and masks the padding (checked against tf ops)', async () => {
    const batch = collate(samples);
    expect(batch.images.shape).toEqual([3, 8, 7, 3]);
    expect(batch.masks.shape).toEqual([3, 8, 7]);
    expect(batch.masks.dtype).toBe('bool');
    for (let b = 0; b < 3; b++) {
      const { data, height: h, width: w } = samples[b].image;
      const ref = tf.tidy(() => {
        const img = tf.tensor3d(Float32Array.from(data), [h, w, 3]);
        const norm = img.sub(tf.tensor1d(PIXEL_MEAN)).div(tf.tensor1d(PIXEL_STD));
        return norm.pad([[0, 8 - h], [0, 7 - w], [0, 0]]);
      });
      const got = batch.images.slice([b, 0, 0, 0], [1, 8, 7, 3]).reshape([8, 7, 3]);
      expect(Array.from(await got.data())).toEqual(Array.from(await ref.data()));
      const mask = (await batch.masks.slice([b, 0, 0], [1, 8, 7]).data()) as Uint8Array;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 7; x++) expect(mask[y * 7 + x]).toBe(y >= h || x >= w ? 1 : 0);
      tf.dispose([ref, got]);
    }
    disposeBatch(batch);
  });

  it('targets are cxcywh normalised by each image\'s own size; sizes and ids are carried', () => {
    const batch = collate(samples);
    // sample 1: 8x4 image, box [1, 2, 4, 6] -> cx 2.5/4, cy 4/8, w 3/4, h 4/8
    expect(Array.from(batch.targets[1].boxes)).toEqual([2.5 / 4, 4 / 8, 3 / 4, 4 / 8]);
    expect(Array.from(batch.targets[1].labels)).toEqual([1]);
    expect(batch.imageIds).toEqual([100, 101, 102]);
    expect(batch.imageSizes).toEqual([[5, 7], [8, 4], [3, 3]]);
    expect(batch.origSizes).toEqual([[6, 9], [9, 6], [4, 5]]);
    disposeBatch(batch);
  });

  it('crowd boxes are left out of the targets', () => {
    const s = { ...syntheticSample(3, 6, 6), boxes: Float32Array.from([0, 0, 3, 3, 1, 1, 6, 6, 3, 0, 6, 3]), labels: Int32Array.from([4, 2, 1]), iscrowd: Uint8Array.from([0, 1, 0]) };
    const batch = collate([s]);
    expect(Array.from(batch.targets[0].labels)).toEqual([4, 1]);
    expect(Array.from(batch.targets[0].boxes)).toEqual([0.25, 0.25, 0.5, 0.5, 0.75, 0.25, 0.5, 0.5]);
    disposeBatch(batch);
  });

  it('size_divisibility rounds the padded size up', () => {
    const batch = collate(samples, { size_divisibility: 32 });
    expect(batch.images.shape).toEqual([3, 32, 32, 3]);
    disposeBatch(batch);
  });
});

describe('DataLoader', () => {
  const sizes: [number, number][] = Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? [6, 4] : [4, 6]) as [number, number]);

  const drawIds = (loader: DataLoader, n: number) => {
    const out: number[][] = [];
    for (let k = 0; k < n; k++) {
      const b = loader.next();
      out.push(b.imageIds);
      disposeBatch(b);
    }
    return out;
  };

  it('without grouping: every epoch is a permutation of the dataset, different per epoch and per seed, same for the same seed', () => {
    const make = (seed: number) => new DataLoader({ dataset: new SyntheticDataset(sizes), batch_size: 5, shuffle: true, seed, transforms: [], aspect_ratio_grouping: false });
    const ids = drawIds(make(1), 6).flat().map((id) => id - 100);
    const epochs = [ids.slice(0, 10), ids.slice(10, 20), ids.slice(20, 30)];
    for (const e of epochs) expect([...e].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(drawIds(make(1), 6).flat().map((id) => id - 100)).toEqual(ids);
    expect(drawIds(make(2), 6).flat().map((id) => id - 100)).not.toEqual(ids);
  });

  it('batches continue across epoch boundaries (detectron2 TrainingSampler): all batches full', () => {
    const loader = new DataLoader({ dataset: new SyntheticDataset(sizes), batch_size: 4, shuffle: false, seed: 0, transforms: [], aspect_ratio_grouping: false });
    expect(drawIds(loader, 3).map((b) => b.map((id) => id - 100))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]);
  });

  it('aspect-ratio grouping: a batch is all landscape or all portrait', () => {
    const loader = new DataLoader({ dataset: new SyntheticDataset(sizes), batch_size: 3, shuffle: true, seed: 4, transforms: [] });
    for (let k = 0; k < 8; k++) {
      const b = loader.next();
      const portrait = b.imageSizes.map(([h, w]) => !(w > h));
      expect(new Set(portrait).size).toBe(1);
      disposeBatch(b);
    }
  });

  it('getState / setState resumes exactly (same images, same augmentation, same buckets)', async () => {
    const make = () => new DataLoader({ dataset: new SyntheticDataset(sizes), batch_size: 3, shuffle: true, seed: 7, transforms: [new RandomFlip({ prob: 0.5 })] });
    const a = make();
    drawIds(a, 5);
    const state = JSON.parse(JSON.stringify(a.getState()));
    const b = make();
    b.setState(state);
    for (let k = 0; k < 6; k++) {
      const x = a.next(), y = b.next();
      expect(y.imageIds).toEqual(x.imageIds);
      expect(Array.from(await y.images.data())).toEqual(Array.from(await x.images.data()));
      expect(y.targets.map((t) => Array.from(t.boxes))).toEqual(x.targets.map((t) => Array.from(t.boxes)));
      disposeBatch(x);
      disposeBatch(y);
    }
    expect(() => new DataLoader({ dataset: new SyntheticDataset(sizes), batch_size: 3, shuffle: true, seed: 8, transforms: [] }).setState(state)).toThrow(/seed=7/);
  });

  it('augmentation really varies between epochs (flip draws differ per stream position)', () => {
    const loader = new DataLoader({ dataset: new SyntheticDataset([[4, 6]]), batch_size: 1, shuffle: false, seed: 0, transforms: [new RandomFlip({ prob: 0.5 })] });
    const firstX = new Set<number>();
    for (let k = 0; k < 20; k++) {
      const b = loader.next();
      firstX.add(Math.round(b.targets[0].boxes[0] * 1000));
      disposeBatch(b);
    }
    expect(firstX.size).toBe(2);
  });

  it('epoch(): one ordered pass, last batch partial unless drop_last', () => {
    const ds = new SyntheticDataset(sizes);
    const loader = new DataLoader({ dataset: ds, batch_size: 4, shuffle: true, seed: 0, transforms: [] });
    const batches: Batch[] = [...loader.epoch()];
    expect(batches.map((b) => b.imageIds.map((id) => id - 100))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    batches.forEach(disposeBatch);
    expect(loader.batchesPerEpoch).toBe(3);
    const dropping = new DataLoader({ dataset: ds, batch_size: 4, shuffle: true, seed: 0, transforms: [], drop_last: true });
    const kept = [...dropping.epoch()];
    expect(kept.length).toBe(2);
    kept.forEach(disposeBatch);
  });

  it('rejects bad options', () => {
    const ds = new SyntheticDataset(sizes);
    expect(() => new DataLoader({ dataset: ds, batch_size: 0, shuffle: true, seed: 0, transforms: [] })).toThrow(/batch_size/);
    expect(() => new DataLoader({ dataset: ds, batch_size: 2, shuffle: true, seed: 0, transforms: [], num_workers: 2 as never })).toThrow(/num_workers/);
  });
});
