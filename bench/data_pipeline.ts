/**
 * Speed of the @detr/datasets pipeline on the embedded MNIST detection dataset (images 96..160 px).
 *
 *   npx tsx bench/data_pipeline.ts [--samples 300] [--batch 8] [--generate]
 *
 * Reports medians (ms) over --samples images, measured in one process so load from other work hits
 * every row alike:
 *   - decode: `decodeImageSync` (sharp in the worker thread) vs `await decodeImage` (sharp on this
 *     thread's event loop), the same files: the difference is the cost of the synchronous bridge;
 *   - transforms: the DETR train recipe at scale 0.2 (short edges 96..160, max 267, crop branch) and
 *     the test resize (short 160, max 267), per sample, decode excluded;
 *   - collate of a batch, and `DataLoader.next()` per batch (decode + transforms + collate);
 *   - with --generate: time to generate the default 4,000 + 500 images into a temporary folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '@detr/core';
import {
  applyTransforms, CocoDetectionDataset, collate, DataLoader, decodeImage, decodeImageSync, detrTestTransforms, detrTrainTransforms,
  disposeBatch, ensureMnistDetection,
} from '@detr/datasets';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => ms.toFixed(3).padStart(8);

async function main() {
  await tf.setBackend('cpu');
  const nSamples = arg('samples', 300);
  const batchSize = arg('batch', 8);

  if (process.argv.includes('--generate')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detr-mnist-bench-'));
    const t0 = performance.now();
    await ensureMnistDetection({ cache_dir: dir, log: () => {} });
    const s = (performance.now() - t0) / 1000;
    const bytes = fs.readdirSync(dir).reduce((n, d) => n + dirSize(path.join(dir, d)), 0);
    console.log(`generate 4000 train + 500 val images: ${s.toFixed(1)} s, ${(bytes / 2 ** 20).toFixed(0)} MiB on disk`);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const paths = await ensureMnistDetection({ log: (m) => console.log(m) });
  const ds = new CocoDetectionDataset({ ...paths.train, is_train: true });
  const n = Math.min(nSamples, ds.length);
  const files = Array.from({ length: n }, (_, i) => path.join(paths.train.img_dir, ds.imageInfo(i).file_name));

  // warm-up
  for (let i = 0; i < 20; i++) {
    decodeImageSync(files[i % n]);
    await decodeImage(files[i % n]);
  }
  const syncMs: number[] = [], asyncMs: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    decodeImageSync(files[i]);
    syncMs.push(performance.now() - t);
    t = performance.now();
    await decodeImage(files[i]);
    asyncMs.push(performance.now() - t);
  }

  const train = detrTrainTransforms({ scale: 0.2 });
  const test = detrTestTransforms({ short: 160, max: 267 });
  const samples = Array.from({ length: n }, (_, i) => ds.get(i));
  const rng = new Rng(0);
  for (let i = 0; i < 20; i++) applyTransforms(samples[i % n], train, rng);
  const trainMs: number[] = [], testMs: number[] = [];
  let pixels = 0;
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const out = applyTransforms(samples[i], train, rng);
    trainMs.push(performance.now() - t);
    pixels += out.image.width * out.image.height;
    t = performance.now();
    applyTransforms(samples[i], test, rng);
    testMs.push(performance.now() - t);
  }

  const collateMs: number[] = [];
  for (let i = 0; i + batchSize <= n; i += batchSize) {
    const batchSamples = samples.slice(i, i + batchSize).map((s) => applyTransforms(s, train, rng));
    const t = performance.now();
    const b = collate(batchSamples);
    collateMs.push(performance.now() - t);
    disposeBatch(b);
  }

  const loader = new DataLoader({ dataset: ds, batch_size: batchSize, shuffle: true, seed: 0, transforms: train });
  const nextMs: number[] = [];
  for (let k = 0; k < Math.max(5, Math.floor(n / batchSize)); k++) {
    const t = performance.now();
    const b = loader.next();
    nextMs.push(performance.now() - t);
    disposeBatch(b);
  }

  console.log(`images: ${n} of ${paths.train.img_dir}; mean train-transformed size ${Math.round(Math.sqrt(pixels / n))} px (sqrt of area)`);
  console.log('median ms                                   ');
  console.log(`${fmt(median(syncMs))}  decode, sync (worker thread + Atomics.wait)`);
  console.log(`${fmt(median(asyncMs))}  decode, async (sharp on this thread)`);
  console.log(`${fmt(median(trainMs))}  train transforms per sample (flip, resize / resize-crop-resize)`);
  console.log(`${fmt(median(testMs))}  test transform per sample (resize short 160, max 267)`);
  console.log(`${fmt(median(collateMs))}  collate, batch of ${batchSize}`);
  console.log(`${fmt(median(nextMs))}  DataLoader.next(), batch of ${batchSize} (decode + transforms + collate)`);
}

function dirSize(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, f) => n + dirSize(path.join(p, f)), 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
