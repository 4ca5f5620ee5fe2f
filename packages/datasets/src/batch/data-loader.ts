/**
 * The data loader of detr-ts, after detectron2's `build_detection_train_loader` / `build_detection_test_loader`
 * (detectron2/data/build.py, samplers/distributed_sampler.py, common.py):
 *   - `next()`: training. An endless stream of dataset indices, one seeded permutation per epoch
 *     (`TrainingSampler`: batches continue across epoch boundaries, so every batch is full), each sample
 *     decoded, transformed and clipped/filtered; with `aspect_ratio_grouping` (detectron2's default) samples
 *     wait in two buckets, landscape (w > h) and portrait, and a bucket is emitted when it holds
 *     `batch_size` samples (`AspectRatioGroupedDataset`).
 *   - `epoch()`: evaluation. One pass over the dataset in index order (`InferenceSampler`), the last
 *     batch partial unless `drop_last`.
 * Randomness is a pure function of (seed, position in the stream): the permutation of epoch e comes from
 * `Rng(seed).fork('shuffle:e')`, the augmentation of stream position g from `Rng(seed).fork('augment:g')`.
 * So the loader's whole state is the stream position plus the positions waiting in the buckets, and
 * `setState(getState())` resumes exactly, with no generator state to carry.
 */
import { Rng } from '@detr/core';
import type { DetectionDataset } from '../dataset';
import { ImageDecodeError } from '../image/decode';
import { applyTransforms, type DetectionSample, type Transform } from '../sample';
import { collate, type Batch, type CollateOptions } from './collate';

export interface DataLoaderOptions {
  dataset: DetectionDataset;
  batch_size: number;
  shuffle: boolean;
  seed: number;
  transforms: Transform[];
  /** `epoch()` only: drop the last partial batch. Default false. (`next()` batches are always full.) */
  drop_last?: boolean;
  /** `next()` only: group landscape / portrait images into separate batches (detectron2 default). Default true. */
  aspect_ratio_grouping?: boolean;
  /** passed to `collate` (pixel mean / std, size_divisibility) */
  collate?: CollateOptions;
  /** not supported: decoding runs in one worker thread, transforms on the calling thread */
  num_workers?: never;
}

export interface DataLoaderState {
  version: 1;
  seed: number;
  datasetLength: number;
  batchSize: number;
  shuffle: boolean;
  aspectRatioGrouping: boolean;
  /** stream position of the next sample to draw (epoch = floor(cursor / datasetLength)) */
  cursor: number;
  /** stream positions waiting in the landscape / portrait buckets (one bucket without grouping) */
  pending: number[][];
}

interface Pending {
  position: number;
  sample: DetectionSample;
}

export class DataLoader {
  readonly dataset: DetectionDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly transforms: Transform[];
  readonly dropLast: boolean;
  readonly aspectRatioGrouping: boolean;
  private readonly collateOptions: CollateOptions;
  private readonly baseRng: Rng;
  private cursor = 0;
  private buckets: Pending[][];
  private permutationCache = new Map<number, number[]>();

  constructor(opts: DataLoaderOptions) {
    if (!opts?.dataset || typeof opts.dataset.get !== 'function') throw new Error('DataLoader: "dataset" with get(index) is required');
    if (!Number.isInteger(opts.batch_size) || opts.batch_size < 1) throw new Error(`DataLoader: batch_size must be a positive integer, got ${opts.batch_size}`);
    if (!Number.isFinite(opts.seed)) throw new Error(`DataLoader: seed must be a finite number, got ${opts.seed}`);
    if (!Array.isArray(opts.transforms)) throw new Error('DataLoader: "transforms" must be an array (use [] for none)');
    if ((opts as { num_workers?: unknown }).num_workers !== undefined) throw new Error('DataLoader: num_workers is not supported (images are decoded in one worker thread)');
    if (opts.dataset.length < 1) throw new Error('DataLoader: the dataset is empty');
    this.dataset = opts.dataset;
    this.batchSize = opts.batch_size;
    this.shuffle = opts.shuffle;
    this.seed = opts.seed;
    this.transforms = opts.transforms;
    this.dropLast = opts.drop_last ?? false;
    this.aspectRatioGrouping = opts.aspect_ratio_grouping ?? true;
    this.collateOptions = opts.collate ?? {};
    this.baseRng = new Rng(opts.seed);
    this.buckets = this.aspectRatioGrouping ? [[], []] : [[]];
  }

  /** Number of batches `epoch()` yields. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Completed passes over the dataset by `next()` (samples drawn / dataset length). */
  get epochsDone(): number {
    return this.cursor / this.dataset.length;
  }

  /** Dataset index at a stream position. */
  private indexAt(position: number): number {
    const n = this.dataset.length;
    const epoch = Math.floor(position / n);
    const pos = position % n;
    if (!this.shuffle) return pos;
    let perm = this.permutationCache.get(epoch);
    if (!perm) {
      perm = this.baseRng.fork(`shuffle:${epoch}`).permutation(n);
      if (this.permutationCache.size >= 2) this.permutationCache.delete(this.permutationCache.keys().next().value!);
      this.permutationCache.set(epoch, perm);
    }
    return perm[pos];
  }

  /** Decoded, transformed sample, or null when the image is bad and the dataset skips bad images. */
  private load(index: number, rng: Rng): DetectionSample | null {
    let sample: DetectionSample;
    try {
      sample = this.dataset.get(index);
    } catch (err) {
      if (err instanceof ImageDecodeError && this.dataset.onBadImage === 'skip') {
        this.dataset.noteSkippedImage?.(index, err);
        return null;
      }
      throw err;
    }
    return applyTransforms(sample, this.transforms, rng);
  }

  private loadAt(position: number): DetectionSample | null {
    return this.load(this.indexAt(position), this.baseRng.fork(`augment:${position}`));
  }

  /** The next training batch (endless; reshuffled every epoch). The caller disposes the batch's tensors. */
  next(): Batch {
    let failures = 0;
    for (;;) {
      const position = this.cursor++;
      const sample = this.loadAt(position);
      if (!sample) {
        if (++failures >= this.dataset.length) throw new Error(`DataLoader: ${failures} consecutive samples could not be read; giving up`);
        continue;
      }
      failures = 0;
      const bucket = this.buckets[this.aspectRatioGrouping && !(sample.image.width > sample.image.height) ? 1 : 0];
      bucket.push({ position, sample });
      if (bucket.length === this.batchSize) {
        const samples = bucket.splice(0, bucket.length).map((p) => p.sample);
        return collate(samples, this.collateOptions);
      }
    }
  }

  /** One pass over the dataset in index order (evaluation). Does not touch the `next()` stream. */
  *epoch(): Generator<Batch> {
    let batch: DetectionSample[] = [];
    for (let index = 0; index < this.dataset.length; index++) {
      const sample = this.load(index, this.baseRng.fork(`eval:${index}`));
      if (!sample) continue;
      batch.push(sample);
      if (batch.length === this.batchSize) {
        yield collate(batch, this.collateOptions);
        batch = [];
      }
    }
    if (batch.length > 0 && !this.dropLast) yield collate(batch, this.collateOptions);
  }

  getState(): DataLoaderState {
    return {
      version: 1,
      seed: this.seed,
      datasetLength: this.dataset.length,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      aspectRatioGrouping: this.aspectRatioGrouping,
      cursor: this.cursor,
      pending: this.buckets.map((b) => b.map((p) => p.position)),
    };
  }

  /** Resume from `getState()`: the same loader settings are required; waiting samples are re-read. */
  setState(state: object): void {
    const s = state as Partial<DataLoaderState>;
    if (!s || s.version !== 1) throw new Error(`DataLoader.setState: unknown state version ${JSON.stringify(s?.version)}`);
    const expect: [keyof DataLoaderState, unknown][] = [
      ['seed', this.seed], ['datasetLength', this.dataset.length], ['batchSize', this.batchSize],
      ['shuffle', this.shuffle], ['aspectRatioGrouping', this.aspectRatioGrouping],
    ];
    for (const [key, mine] of expect) {
      if (s[key] !== mine) throw new Error(`DataLoader.setState: the state has ${key}=${JSON.stringify(s[key])} but this loader has ${JSON.stringify(mine)}`);
    }
    if (!Number.isInteger(s.cursor) || s.cursor! < 0) throw new Error(`DataLoader.setState: bad cursor ${JSON.stringify(s.cursor)}`);
    const pending = s.pending;
    if (!Array.isArray(pending) || pending.length !== this.buckets.length || !pending.every((b) => Array.isArray(b) && b.every((p) => Number.isInteger(p) && p >= 0 && p < s.cursor!))) {
      throw new Error(`DataLoader.setState: bad pending list ${JSON.stringify(pending)}`);
    }
    const buckets: Pending[][] = pending.map((b) =>
      b.map((position) => {
        const sample = this.loadAt(position);
        if (!sample) throw new Error(`DataLoader.setState: the waiting sample at stream position ${position} can no longer be read`);
        return { position, sample };
      }),
    );
    this.cursor = s.cursor!;
    this.buckets = buckets;
  }
}
