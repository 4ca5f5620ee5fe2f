import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { resolvePart } from '@detr/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CocoDetectionDataset, DataLoader, decodeImage, decodeImageSync, ImageDecodeError, jsonErrorOffset, type CocoDetectionDatasetOptions } from '../src/index';

let dir: string;
let imgDir: string;

/** A small RGB test pattern: R = 3x + 5y, G = 200 - x, B = y. */
function pattern(w: number, h: number): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      b[(y * w + x) * 3] = (3 * x + 5 * y) % 256;
      b[(y * w + x) * 3 + 1] = 200 - x;
      b[(y * w + x) * 3 + 2] = y;
    }
  return b;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detr-datasets-coco-'));
  imgDir = path.join(dir, 'images');
  fs.mkdirSync(imgDir);
  const raw = { raw: { width: 40, height: 30, channels: 3 as const } };
  await sharp(pattern(40, 30), raw).png().toFile(path.join(imgDir, 'a.png'));
  await sharp(pattern(40, 30), raw).jpeg({ quality: 100 }).toFile(path.join(imgDir, 'b.jpg'));
  await sharp(pattern(40, 30), raw).png().toFile(path.join(imgDir, 'c.png'));
  await sharp(pattern(40, 30), raw).png().toFile(path.join(imgDir, 'empty.png'));
  await sharp(pattern(40, 30), raw).png().toFile(path.join(imgDir, 'crowdonly.png'));
  // grayscale and RGBA files
  const gray = Buffer.alloc(40 * 30).map((_, i) => i % 256);
  await sharp(gray, { raw: { width: 40, height: 30, channels: 1 } }).png().toFile(path.join(imgDir, 'gray.png'));
  const rgba = Buffer.alloc(40 * 30 * 4).map((_, i) => (i % 4 === 3 ? 0 : 77));
  await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).png().toFile(path.join(imgDir, 'rgba.png'));
  // stored 30 wide x 40 high with EXIF orientation 6 (rotate 90 degrees clockwise to display): upright it is 40x30
  await sharp(pattern(30, 40), { raw: { width: 30, height: 40, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toFile(path.join(imgDir, 'exif.jpg'));
  // a PNG cut short, and a text file posing as a PNG
  const full = fs.readFileSync(path.join(imgDir, 'a.png'));
  fs.writeFileSync(path.join(imgDir, 'truncated.png'), full.subarray(0, Math.floor(full.length / 2)));
  fs.writeFileSync(path.join(imgDir, 'text.png'), 'not an image');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let jsonCount = 0;
function writeJson(content: unknown): string {
  const file = path.join(dir, `ann${jsonCount++}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const CATEGORIES = [{ id: 18, name: 'dog' }, { id: 1, name: 'person' }, { id: 3, name: 'car' }];

function baseJson() {
  return {
    images: [
      { id: 10, file_name: 'a.png', width: 40, height: 30 },
      { id: 11, file_name: 'b.jpg', width: 40, height: 30 },
      { id: 12, file_name: 'empty.png', width: 40, height: 30 },
      { id: 13, file_name: 'crowdonly.png', width: 40, height: 30 },
    ],
    annotations: [
      { id: 1, image_id: 10, category_id: 18, bbox: [5, 4, 10, 8], iscrowd: 0 },
      { id: 2, image_id: 10, category_id: 1, bbox: [30, 20, 20, 20], iscrowd: 0 }, // partly outside: clipped to [30,20,40,30]
      { id: 3, image_id: 10, category_id: 3, bbox: [1, 1, 5, 5], iscrowd: 1 }, // crowd
      { id: 4, image_id: 11, category_id: 3, bbox: [0, 0, 0, 7], iscrowd: 0 }, // no area
      { id: 5, image_id: 11, category_id: 1, bbox: [41, 2, 5, 5], iscrowd: 0 }, // entirely outside
      { id: 6, image_id: 11, category_id: 1, bbox: [10.5, 2.25, 4, 6], iscrowd: 0 },
      { id: 7, image_id: 13, category_id: 1, bbox: [2, 2, 6, 6], iscrowd: 1 },
    ],
    categories: CATEGORIES,
  };
}

function open(json: unknown, opts: Partial<CocoDetectionDatasetOptions> = {}) {
  const logs: string[] = [];
  const ds = new CocoDetectionDataset({ ann_file: writeJson(json), img_dir: imgDir, log: (m) => logs.push(m), ...opts });
  return { ds, logs };
}

describe('CocoDetectionDataset: parsing', () => {
  it("is registered as 'dataset/coco'", () => {
    expect(resolvePart('dataset/coco')).toBe(CocoDetectionDataset);
  });

  it('maps category ids to contiguous labels in ascending id order, and back', () => {
    const { ds } = open(baseJson());
    expect(ds.categoryIds).toEqual([1, 3, 18]);
    expect(ds.numClasses).toBe(3);
    expect(ds.categoryIdToLabel(18)).toBe(2);
    expect(ds.labelToCategoryId(0)).toBe(1);
    expect(() => ds.categoryIdToLabel(2)).toThrow(/category id 2/);
    expect(() => ds.labelToCategoryId(3)).toThrow(/label 3/);
  });

  it('training: drops crowd boxes and empty images, clips and drops bad boxes, with counts in stats and the log', () => {
    const { ds, logs } = open(baseJson());
    expect(ds.length).toBe(2); // empty.png and crowdonly.png dropped
    expect(ds.stats).toMatchObject({ imagesInFile: 4, annotationsInFile: 7, images: 2, boxes: 3, crowdDropped: 2, degenerateDropped: 1, outsideDropped: 1, clipped: 1, partlyOutsideSkipped: 0, emptyImagesDropped: 2 });
    expect(logs.join('\n')).toMatch(/2 crowd boxes dropped.*1 boxes with no area dropped.*1 boxes outside their image dropped.*1 boxes clipped/);
    const a = ds.get(0);
    expect(a.imageId).toBe(10);
    expect(Array.from(a.boxes)).toEqual([5, 4, 15, 12, 30, 20, 40, 30]);
    expect(Array.from(a.labels)).toEqual([2, 0]);
    expect(a.origSize).toEqual([30, 40]);
    expect(a.iscrowd).toBeUndefined();
    const b = ds.get(1);
    expect(Array.from(b.boxes)).toEqual([10.5, 2.25, 14.5, 8.25]);
  });

  it('evaluation (is_train false): keeps crowd boxes (flagged) and images without boxes', () => {
    const { ds } = open(baseJson(), { is_train: false });
    expect(ds.length).toBe(4);
    expect(ds.stats.crowdDropped).toBe(0);
    expect(ds.stats.emptyImagesDropped).toBe(0);
    const a = ds.get(0);
    expect(Array.from(a.labels)).toEqual([2, 0, 1]);
    expect(Array.from(a.iscrowd!)).toEqual([0, 0, 1]);
    expect(ds.get(2).labels.length).toBe(0);
    expect(ds.imageInfo(3).file_name).toBe('crowdonly.png');
  });

  it('filter_empty can be set independently of is_train', () => {
    expect(open(baseJson(), { is_train: true, filter_empty: false }).ds.length).toBe(4);
    expect(open(baseJson(), { is_train: false, filter_empty: true }).ds.length).toBe(2); // crowd-only image has no non-crowd box
  });

  it("on_bad_box 'skip' drops partly-outside boxes, 'error' names the annotation, image and problem", () => {
    const { ds } = open(baseJson(), { on_bad_box: 'skip' });
    expect(ds.stats.partlyOutsideSkipped).toBe(1);
    expect(ds.stats.clipped).toBe(0);
    expect(Array.from(ds.get(0).boxes)).toEqual([5, 4, 15, 12]);
    const j = baseJson();
    j.annotations = j.annotations.filter((a) => a.id !== 4 && a.id !== 5);
    expect(() => open(j, { on_bad_box: 'error' })).toThrow(/annotations\[1\] \(id 2\) of image id 10 \('a.png', 40x30\): bbox \[30,20,20,20\] lies partly outside/);
    expect(() => open(baseJson(), { on_bad_box: 'error' })).toThrow(/has no area|outside/);
  });
});

describe('CocoDetectionDataset: bad input', () => {
  it('malformed json: error names the file and the line / column', () => {
    const file = writeJson('{\n  "images": [],\n  "annotations": [,]\n}');
    expect(() => new CocoDetectionDataset({ ann_file: file, img_dir: imgDir })).toThrow(new RegExp(`Malformed JSON in COCO annotation file '${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' at line 3, column 19: `));
  });

  it('missing file / missing or wrong top-level fields', () => {
    expect(() => new CocoDetectionDataset({ ann_file: path.join(dir, 'nope.json'), img_dir: imgDir })).toThrow(/Cannot read COCO annotation file .*nope.json.*file not found/);
    const noImages = baseJson() as Record<string, unknown>;
    delete noImages.images;
    expect(() => open(noImages)).toThrow(/missing field "images"/);
    const noAnns = baseJson() as Record<string, unknown>;
    delete noAnns.annotations;
    expect(() => open(noAnns)).toThrow(/missing field "annotations"/);
    expect(() => open({ ...baseJson(), annotations: {} })).toThrow(/"annotations" must be an array/);
    expect(() => open([1, 2])).toThrow(/top level must be an object/);
  });

  it('item errors name the array, index, id and field', () => {
    const j = baseJson();
    j.annotations.push({ id: 99, image_id: 777, category_id: 1, bbox: [1, 1, 2, 2], iscrowd: 0 });
    expect(() => open(j)).toThrow(/annotations\[7\] \(id 99\): "image_id" 777 is not in "images"/);
    const k = baseJson();
    k.annotations[0].category_id = 5;
    expect(() => open(k)).toThrow(/annotations\[0\] \(id 1\): "category_id" 5 is not in "categories"/);
    const l = baseJson();
    (l.annotations[1] as { bbox: unknown }).bbox = [1, 2, 'x', 4];
    expect(() => open(l)).toThrow(/annotations\[1\] \(id 2\): "bbox" must be 4 finite numbers/);
    const m = baseJson();
    (m.images[1] as { width: unknown }).width = 0;
    expect(() => open(m)).toThrow(/images\[1\] \(id 11\): "width" must be a positive integer/);
    const n = baseJson();
    n.images.push({ id: 10, file_name: 'c.png', width: 40, height: 30 });
    expect(() => open(n)).toThrow(/duplicate image id 10/);
  });

  it('missing image file: error listing it, or a counted, logged skip', () => {
    const j = baseJson();
    j.images.push({ id: 20, file_name: 'missing.png', width: 40, height: 30 });
    j.annotations.push({ id: 30, image_id: 20, category_id: 1, bbox: [1, 1, 5, 5], iscrowd: 0 });
    expect(() => open(j)).toThrow(/1 image file\(s\) missing in .*'missing.png'.*on_bad_image/);
    const { ds, logs } = open(j, { on_bad_image: 'skip' });
    expect(ds.stats.missingImagesSkipped).toBe(1);
    expect(ds.length).toBe(2);
    expect(logs.some((m) => m.includes("'missing.png'"))).toBe(true);
  });

  it('unreadable image files: ImageDecodeError naming the file; skipped and counted by the loader in skip mode', () => {
    const json = {
      images: [
        { id: 1, file_name: 'a.png', width: 40, height: 30 },
        { id: 2, file_name: 'truncated.png', width: 40, height: 30 },
        { id: 3, file_name: 'text.png', width: 40, height: 30 },
        { id: 4, file_name: 'c.png', width: 40, height: 30 },
      ],
      annotations: [1, 2, 3, 4].map((i) => ({ id: i, image_id: i, category_id: 1, bbox: [1, 1, 5, 5], iscrowd: 0 })),
      categories: CATEGORIES,
    };
    const { ds } = open(json);
    expect(() => ds.get(1)).toThrow(ImageDecodeError);
    expect(() => ds.get(1)).toThrow(/truncated.png/);
    expect(() => ds.get(2)).toThrow(/text.png/);
    expect(() => new DataLoader({ dataset: ds, batch_size: 4, shuffle: false, seed: 0, transforms: [] }).epoch().next()).toThrow(ImageDecodeError);

    const skip = open(json, { on_bad_image: 'skip' });
    const loader = new DataLoader({ dataset: skip.ds, batch_size: 4, shuffle: false, seed: 0, transforms: [] });
    const batches = [...loader.epoch()];
    expect(batches.map((b) => b.imageIds)).toEqual([[1, 4]]);
    batches.forEach((b) => { b.images.dispose(); b.masks.dispose(); });
    expect(skip.ds.stats.badImagesSkipped).toBe(2);
    expect(skip.logs.filter((m) => m.includes('unreadable')).length).toBe(2);

    const verified = open(json, { on_bad_image: 'skip', verify_images: true });
    expect(verified.ds.length).toBe(2);
    expect(verified.ds.stats.badImagesSkipped).toBe(2);
    expect(() => open(json, { verify_images: true })).toThrow(/truncated.png/);
  });

  it('decoded size must match the json (detectron2 check_image_size)', () => {
    const json = { images: [{ id: 1, file_name: 'a.png', width: 30, height: 40 }], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 5, 5] }], categories: CATEGORIES };
    const { ds } = open(json);
    expect(() => ds.get(0)).toThrow(/decoded size 40x30 differs from the json's 30x40.*EXIF/);
  });
});

describe('image decoding', () => {
  it('PNG decodes exactly; sync (worker) and async paths agree', async () => {
    const img = decodeImageSync(path.join(imgDir, 'a.png'));
    expect([img.width, img.height, img.channels]).toEqual([40, 30, 3]);
    expect(Buffer.from(img.data)).toEqual(pattern(40, 30));
    const asyncImg = await decodeImage(path.join(imgDir, 'a.png'));
    expect(Buffer.from(asyncImg.data)).toEqual(Buffer.from(img.data));
  });

  it('JPEG decodes to RGB close to the source (lossy)', () => {
    const img = decodeImageSync(path.join(imgDir, 'b.jpg'));
    const ref = pattern(40, 30);
    let sum = 0;
    for (let i = 0; i < ref.length; i++) sum += Math.abs(img.data[i] - ref[i]);
    expect(sum / ref.length).toBeLessThan(6);
  });

  it('grayscale becomes 3 equal channels, alpha is dropped', () => {
    const g = decodeImageSync(path.join(imgDir, 'gray.png'));
    expect(g.channels).toBe(3);
    for (const i of [0, 17, 1199]) expect([g.data[i * 3], g.data[i * 3 + 1], g.data[i * 3 + 2]]).toEqual([i % 256, i % 256, i % 256]);
    const a = decodeImageSync(path.join(imgDir, 'rgba.png'));
    expect(a.data.length).toBe(40 * 30 * 3);
    expect(a.data.every((v) => v === 77)).toBe(true);
  });

  it('EXIF orientation is applied (stored 30x40 with orientation 6 decodes upright as 40x30)', () => {
    const img = decodeImageSync(path.join(imgDir, 'exif.jpg'));
    expect([img.width, img.height]).toEqual([40, 30]);
    // rotating the stored image 90 degrees clockwise puts stored (x=0, y=39) at the top-left
    const ref = pattern(30, 40);
    const stored = (x: number, y: number, c: number) => ref[(y * 30 + x) * 3 + c];
    expect(Math.abs(img.data[0] - stored(0, 39, 0))).toBeLessThan(12);
    expect(Math.abs(img.data[2] - stored(0, 39, 2))).toBeLessThan(12);
  });
});

describe('jsonErrorOffset', () => {
  it("finds the offset Python's json module reports (pos of JSONDecodeError)", () => {
    // [text, offset] pairs from python3 -c "json.loads(text)" -> e.pos
    const cases: [string, number][] = [
      ['{"a": 1,}', 8], ['[1, 2', 5], ['{"a" 1}', 5], ['{"a": tru}', 6], ['{"a": "x\\q"}', 8], ['[1, 2]]', 6],
      ['{"a": [1, 2,]}', 12], ['{"a": 01}', 7], ['', 0], ['{"images": [], "annotations": [,]}', 31], ['{"a": "b\n"}', 8], ['[-]', 1],
    ];
    for (const [text, offset] of cases) expect([text, jsonErrorOffset(text)]).toEqual([text, offset]);
    expect(jsonErrorOffset('{"a": [1, 2.5e-3, "\\u00e9", true, null], "b": {}}')).toBeUndefined();
  });
});
