/**
 * The embedded default dataset: COCO-format train / val splits of MNIST digit scenes (scene.ts),
 * generated on first use into a cache folder and reused afterwards, so training needs no download.
 *
 * Layout: `<cache_dir>/<key>/{meta.json, annotations/{train,val}.json, train/*.png, val/*.png}` where
 * `key` encodes the counts, the seed and a hash of the generator's version number, parameters and
 * source files (scene.ts, mnist-digits.ts, ensure.ts, image/resize.ts): a changed generator or option
 * lands in a new folder and never reuses stale files; after generating, folders of older generators
 * with the same counts and seed are removed. Safe when several processes
 * start at once: each generates into its own temporary folder and renames it into place; the first
 * rename wins and the others discard their copy.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@detr/core';
import { writePng } from '../image/decode';
import { mnistPools, MNIST_TRAIN_FRACTION } from './mnist-digits';
import { renderScene, SCENE_PARAMS } from './scene';

/** Bump when the generated data changes in any way. */
export const MNIST_DETECTION_VERSION = 1;

export const MNIST_CATEGORIES = Array.from({ length: 10 }, (_, d) => ({ id: d + 1, name: String(d), supercategory: 'digit' }));

export interface MnistDetectionOptions {
  /** default `<repo root>/.cache/mnist-det-v1` */
  cache_dir?: string;
  num_train?: number;
  num_val?: number;
  seed?: number;
  /** progress / reuse messages. Default: console.log */
  log?: (message: string) => void;
}

export interface SplitFiles {
  ann_file: string;
  img_dir: string;
}

export interface MnistDetectionPaths {
  root: string;
  train: SplitFiles;
  val: SplitFiles;
  categories: { id: number; name: string; supercategory: string }[];
  /** true when this call generated the data, false when it reused the cache */
  generated: boolean;
}

/** The folder holding nx.json above this file (or the working directory), for the default cache. */
export function findRepoRoot(): string {
  const starts = [path.dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, 'nx.json'))) return dir;
      if (path.dirname(dir) === dir) break;
    }
  }
  return process.cwd();
}

export function defaultMnistCacheDir(): string {
  return path.join(findRepoRoot(), '.cache', `mnist-det-v${MNIST_DETECTION_VERSION}`);
}

interface CocoJsonOut {
  info: Record<string, unknown>;
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: 0 }[];
  categories: typeof MNIST_CATEGORIES;
}

/** Generate one split (images written to `imgDir`) and return its COCO json text. */
export async function generateMnistSplit(split: 'train' | 'val', count: number, seed: number, imgDir: string): Promise<string> {
  const pools = mnistPools(split);
  const base = new Rng(seed);
  const json: CocoJsonOut = {
    info: { description: `detr-ts embedded MNIST detection dataset, ${split} split`, version: MNIST_DETECTION_VERSION, seed },
    images: [],
    annotations: [],
    categories: MNIST_CATEGORIES,
  };
  const writes = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    const scene = renderScene(base.fork(`${split}:${i}`), pools);
    const id = i + 1;
    const fileName = `${split}_${String(id).padStart(6, '0')}.png`;
    json.images.push({ id, file_name: fileName, width: scene.image.width, height: scene.image.height });
    for (const o of scene.objects) {
      const [x0, y0, x1, y1] = o.box;
      json.annotations.push({ id: json.annotations.length + 1, image_id: id, category_id: o.label + 1, bbox: [x0, y0, x1 - x0, y1 - y0], area: (x1 - x0) * (y1 - y0), iscrowd: 0 });
    }
    const p: Promise<void> = writePng(path.join(imgDir, fileName), scene.image).finally(() => writes.delete(p));
    writes.add(p);
    if (writes.size >= 8) await Promise.race(writes);
  }
  await Promise.all(writes);
  return JSON.stringify(json);
}

/** Source files whose code decides the generated data: any edit to them gives a new cache folder. */
const GENERATOR_SOURCES = ['./scene.ts', './mnist-digits.ts', './ensure.ts', '../image/resize.ts'];

function generatorSourceHash(): string {
  const h = createHash('sha256');
  for (const rel of GENERATOR_SOURCES) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    // line endings normalised so a CRLF checkout gets the same key
    h.update(fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n'));
  }
  return h.digest('hex');
}

function cacheKey(numTrain: number, numVal: number, seed: number): { prefix: string; key: string; hash: string; params: object } {
  const params = { version: MNIST_DETECTION_VERSION, scene: SCENE_PARAMS, trainFraction: MNIST_TRAIN_FRACTION, numTrain, numVal, seed, sources: generatorSourceHash() };
  const hash = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 12);
  const prefix = `train${numTrain}-val${numVal}-seed${seed}-`;
  return { prefix, key: `${prefix}${hash}`, hash, params };
}

/** Remove folders of older generator versions with the same counts and seed (never the current one, never temporaries). */
function removeStale(cacheDir: string, prefix: string, key: string, log: (m: string) => void): void {
  for (const name of fs.readdirSync(cacheDir)) {
    if (name === key || !name.startsWith(prefix)) continue;
    fs.rmSync(path.join(cacheDir, name), { recursive: true, force: true });
    log(`Removed the MNIST detection dataset of an older generator: ${path.join(cacheDir, name)}`);
  }
}

function pathsOf(root: string): Omit<MnistDetectionPaths, 'generated'> {
  return {
    root,
    train: { ann_file: path.join(root, 'annotations', 'train.json'), img_dir: path.join(root, 'train') },
    val: { ann_file: path.join(root, 'annotations', 'val.json'), img_dir: path.join(root, 'val') },
    categories: MNIST_CATEGORIES,
  };
}

function isComplete(root: string, hash: string): boolean {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(root, 'meta.json'), 'utf8'));
    const p = pathsOf(root);
    return meta.hash === hash && fs.existsSync(p.train.ann_file) && fs.existsSync(p.val.ann_file);
  } catch {
    return false;
  }
}

/** The paths of an already generated dataset with these options, or null (synchronous; no generation). */
export function locateMnistDetection(opts: MnistDetectionOptions = {}): MnistDetectionPaths | null {
  const { key, hash } = cacheKey(opts.num_train ?? 4000, opts.num_val ?? 500, opts.seed ?? 0);
  const root = path.join(path.resolve(opts.cache_dir ?? defaultMnistCacheDir()), key);
  return isComplete(root, hash) ? { ...pathsOf(root), generated: false } : null;
}

/**
 * Make sure the embedded dataset exists (generate it on first use) and return its paths.
 * Defaults: 4,000 train and 500 val images, seed 0.
 */
export async function ensureMnistDetection(opts: MnistDetectionOptions = {}): Promise<MnistDetectionPaths> {
  const numTrain = opts.num_train ?? 4000;
  const numVal = opts.num_val ?? 500;
  const seed = opts.seed ?? 0;
  const log = opts.log ?? ((m: string) => console.log(m));
  for (const [name, v] of [['num_train', numTrain], ['num_val', numVal]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`ensureMnistDetection: ${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(seed)) throw new Error(`ensureMnistDetection: seed must be an integer, got ${seed}`);
  const cacheDir = path.resolve(opts.cache_dir ?? defaultMnistCacheDir());
  const { prefix, key, hash, params } = cacheKey(numTrain, numVal, seed);
  const root = path.join(cacheDir, key);
  if (isComplete(root, hash)) return { ...pathsOf(root), generated: false };

  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, `.tmp-${key}-${process.pid}-`));
  try {
    const started = Date.now();
    log(`Generating the MNIST detection dataset (${numTrain} train / ${numVal} val images) in ${root} ...`);
    const t = pathsOf(tmp);
    fs.mkdirSync(path.dirname(t.train.ann_file), { recursive: true });
    fs.mkdirSync(t.train.img_dir);
    fs.mkdirSync(t.val.img_dir);
    fs.writeFileSync(t.train.ann_file, await generateMnistSplit('train', numTrain, seed, t.train.img_dir));
    fs.writeFileSync(t.val.ann_file, await generateMnistSplit('val', numVal, seed, t.val.img_dir));
    fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify({ hash, params, categories: MNIST_CATEGORIES, generator: '@detr/datasets ensureMnistDetection' }, null, 2));
    if (fs.existsSync(root) && !isComplete(root, hash)) fs.rmSync(root, { recursive: true, force: true }); // a broken leftover
    try {
      fs.renameSync(tmp, root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && isComplete(root, hash)) {
        fs.rmSync(tmp, { recursive: true, force: true }); // another process finished first
        return { ...pathsOf(root), generated: false };
      }
      throw err;
    }
    log(`MNIST detection dataset ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${root}`);
    removeStale(cacheDir, prefix, key, log);
    return { ...pathsOf(root), generated: true };
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
