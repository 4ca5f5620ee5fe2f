import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '@detr/core';
import { afterAll, describe, expect, it } from 'vitest';
import { CocoDetectionDataset, decodeImageSync, ensureMnistDetection, generateMnistSplit, mnistPools, renderScene, SCENE_PARAMS } from '../src/index';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'detr-datasets-mnist-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const quiet = () => {};

describe('MNIST digit pools', () => {
  it('train and val use disjoint digit instances, together all of them', () => {
    const train = mnistPools('train'), val = mnistPools('val');
    for (let d = 0; d < 10; d++) {
      const t = new Set(train[d].map((g) => g.instance)), v = val[d].map((g) => g.instance);
      expect(v.some((k) => t.has(k))).toBe(false);
      expect(t.size + v.length).toBeGreaterThan(850);
      expect(val[d].every((g) => g.label === d)).toBe(true);
    }
  });
});

describe('renderScene', () => {
  it('boxes are tight around the drawn digits (checked on the pixels of clean scenes)', () => {
    const pools = mnistPools('val');
    for (let k = 0; k < 12; k++) {
      const scene = renderScene(new Rng(k), pools, { clean: true });
      const { data, width: W, height: H } = scene.image;
      // background of a clean scene is flat: take the first pixel outside every box
      const covered = new Uint8Array(W * H);
      for (const o of scene.objects) for (let y = o.box[1]; y < o.box[3]; y++) covered.fill(1, y * W + o.box[0], y * W + o.box[2]);
      const first = covered.indexOf(0);
      const bg = [0, 1, 2].map((c) => data[first * 3 + c]);
      const diff = new Float32Array(W * H); // largest channel difference from the background
      let strongest = 0;
      for (let i = 0; i < W * H; i++) {
        diff[i] = Math.max(Math.abs(data[i * 3] - bg[0]), Math.abs(data[i * 3 + 1] - bg[1]), Math.abs(data[i * 3 + 2] - bg[2]));
        strongest = Math.max(strongest, diff[i]);
      }
      const ink = (x: number, y: number) => diff[y * W + x] > 8;
      expect(scene.objects.length).toBeGreaterThanOrEqual(1);
      for (const o of scene.objects) {
        const [x0, y0, x1, y1] = o.box;
        expect(x0).toBeGreaterThanOrEqual(0);
        expect(y0).toBeGreaterThanOrEqual(0);
        expect(x1).toBeLessThanOrEqual(W);
        expect(y1).toBeLessThanOrEqual(H);
        // every side of the box touches ink (tight), for boxes not overlapped by another box
        const alone = scene.objects.every((p) => p === o || p.box[2] <= x0 || p.box[0] >= x1 || p.box[3] <= y0 || p.box[1] >= y1);
        if (!alone) continue;
        const rowHas = (y: number) => Array.from({ length: x1 - x0 }, (_, i) => ink(x0 + i, y)).some(Boolean);
        const colHas = (x: number) => Array.from({ length: y1 - y0 }, (_, i) => ink(x, y0 + i)).some(Boolean);
        expect([rowHas(y0), rowHas(y1 - 1), colHas(x0), colHas(x1 - 1)]).toEqual([true, true, true, true]);
      }
      // outside the boxes only the faint anti-aliased fringe remains: coverage < inkThreshold, so a
      // difference from the background below inkThreshold times the strongest contrast in the scene
      let worstOutside = 0;
      for (let i = 0; i < W * H; i++) if (!covered[i]) worstOutside = Math.max(worstOutside, diff[i]);
      expect(worstOutside).toBeLessThan(SCENE_PARAMS.inkThreshold * strongest + 1);
    }
  });

  it('scene statistics follow the parameters: 1-6 digits, sizes in range, canvas in range', () => {
    const pools = mnistPools('train');
    let digits = 0, small = 0;
    const n = 60;
    for (let k = 0; k < n; k++) {
      const s = renderScene(new Rng(1000 + k), pools);
      expect(s.image.width).toBeGreaterThanOrEqual(SCENE_PARAMS.canvasSize[0]);
      expect(s.image.width).toBeLessThanOrEqual(SCENE_PARAMS.canvasSize[1]);
      expect(s.objects.length).toBeLessThanOrEqual(SCENE_PARAMS.digitsPerImage[1]);
      for (const o of s.objects) {
        const h = o.box[3] - o.box[1];
        expect(h).toBeLessThanOrEqual(SCENE_PARAMS.digitHeight[1]);
        if ((o.box[2] - o.box[0]) * h < 32 * 32) small++;
      }
      digits += s.objects.length;
    }
    expect(digits / n).toBeGreaterThan(3);
    expect(small / digits).toBeGreaterThan(0.3); // many COCO-"small" objects
  });
});

describe('ensureMnistDetection', () => {
  it('generation is deterministic: byte-identical json and identical pixels', async () => {
    const a = path.join(tmpRoot, 'det-a'), b = path.join(tmpRoot, 'det-b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    const ja = await generateMnistSplit('val', 5, 3, a);
    const jb = await generateMnistSplit('val', 5, 3, b);
    expect(ja).toBe(jb);
    const files = fs.readdirSync(a).sort();
    expect(files.length).toBe(5);
    for (const f of files) expect(Buffer.from(decodeImageSync(path.join(a, f)).data).equals(Buffer.from(decodeImageSync(path.join(b, f)).data))).toBe(true);
    // a different seed gives different data
    const c = path.join(tmpRoot, 'det-c');
    fs.mkdirSync(c);
    expect(await generateMnistSplit('val', 5, 4, c)).not.toBe(ja);
  });

  it('generates once, reuses the cache, survives concurrent first use, and loads as a COCO dataset', async () => {
    const cache = path.join(tmpRoot, 'cache');
    const opts = { cache_dir: cache, num_train: 8, num_val: 4, seed: 0, log: quiet };
    const stale = path.join(cache, 'train8-val4-seed0-000000000000'); // as left by an older generator
    fs.mkdirSync(path.join(stale, 'train'), { recursive: true });
    const [p1, p2] = await Promise.all([ensureMnistDetection(opts), ensureMnistDetection(opts)]);
    expect(p1.root).toBe(p2.root);
    expect([p1.generated, p2.generated].filter(Boolean).length).toBeGreaterThanOrEqual(1);
    expect(fs.readdirSync(cache).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(fs.existsSync(stale)).toBe(false);
    const again = await ensureMnistDetection(opts);
    expect(again.generated).toBe(false);
    expect(again.train.ann_file).toBe(p1.train.ann_file);
    // other options -> another folder
    const other = await ensureMnistDetection({ ...opts, seed: 1 });
    expect(other.root).not.toBe(p1.root);

    const train = new CocoDetectionDataset({ ...p1.train, is_train: true, log: quiet });
    expect(train.length).toBe(8);
    expect(train.categoryIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const s = train.get(0);
    expect(s.labels.length).toBeGreaterThan(0);
    expect(Array.from(s.labels).every((l) => l >= 0 && l < 10)).toBe(true);
    const json = JSON.parse(fs.readFileSync(p1.train.ann_file, 'utf8'));
    expect(json.categories.map((c: { name: string }) => c.name)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(train.stats.clipped + train.stats.degenerateDropped + train.stats.outsideDropped).toBe(0);
  });
});
