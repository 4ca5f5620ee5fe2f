/**
 * COCO detection dataset: a COCO json plus an image folder, as detectron2's `load_coco_json` +
 * `get_detection_dataset_dicts` + detrex's `DetrDatasetMapper` read it
 * (detectron2/data/datasets/coco.py, detectron2/data/build.py, detrex/data/detr_dataset_mapper.py):
 *   - category ids sorted ascending and mapped to contiguous labels 0..C-1 (`thing_dataset_id_to_contiguous_id`);
 *   - crowd boxes dropped for training (`if obj.get("iscrowd", 0) == 0` in the mapper), counted;
 *   - `filter_empty` (default: is_train, as `get_detection_dataset_dicts(filter_empty=True)` for training and
 *     `filter_empty=False` for the test set) drops images without a non-crowd box, counted;
 *   - boxes converted XYWH_ABS -> XYXY_ABS; boxes partly outside the image are clipped / skipped / an error
 *     (`on_bad_box`), boxes with no area or entirely outside are dropped (or an error), every case counted;
 *   - image files that are missing (checked up front) or fail to decode (checked in `get`, or up front with
 *     `verify_images`) are an error or a logged, counted skip (`on_bad_image`);
 *   - the decoded size must equal the json's width/height (detectron2 `check_image_size`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { register } from '@detr/registry';
import { ImageDecodeError } from '../image/decode';
import { decodeImageSync } from '../image/sync-decoder';
import type { DetectionSample } from '../sample';
import type { DetectionDataset } from '../dataset';
import { readCocoDetectionJson, type CocoCategoryInfo, type CocoImageInfo } from './coco-json';

export interface CocoDetectionDatasetOptions {
  ann_file: string;
  img_dir: string;
  /** training mode: drop crowd boxes; default of filter_empty. Default true. */
  is_train?: boolean;
  /** drop images without any (non-crowd, valid) box. Default: is_train. */
  filter_empty?: boolean;
  /** missing / undecodable image files: throw, or skip with a count in the log. Default 'error'. */
  on_bad_image?: 'error' | 'skip';
  /**
   * boxes partly outside the image: 'clip' (default) clips them to the image, 'skip' drops them, 'error'
   * throws. Boxes with no area or entirely outside are dropped (counted) unless this is 'error'.
   */
  on_bad_box?: 'error' | 'clip' | 'skip';
  /** decode every image once in the constructor, so bad files are found before training. Default false. */
  verify_images?: boolean;
  /** where counts of dropped / clipped / skipped items go. Default console.warn. */
  log?: (message: string) => void;
}

export interface CocoDatasetStats {
  imagesInFile: number;
  annotationsInFile: number;
  /** images kept (the dataset's length) */
  images: number;
  /** boxes kept over all kept images */
  boxes: number;
  crowdDropped: number;
  /** boxes with width or height <= 0 */
  degenerateDropped: number;
  /** boxes entirely outside their image */
  outsideDropped: number;
  /** boxes partly outside, clipped to the image (on_bad_box 'clip') */
  clipped: number;
  /** boxes partly outside, dropped (on_bad_box 'skip') */
  partlyOutsideSkipped: number;
  /** images without a box, dropped by filter_empty */
  emptyImagesDropped: number;
  /** image files not found (on_bad_image 'skip') */
  missingImagesSkipped: number;
  /** image files that failed to decode or had the wrong size (on_bad_image 'skip') */
  badImagesSkipped: number;
}

interface ImageRecord {
  info: CocoImageInfo;
  filePath: string;
  boxes: Float32Array; // n*4 xyxy
  labels: Int32Array;
  iscrowd?: Uint8Array;
}

@register('dataset', 'coco')
export class CocoDetectionDataset implements DetectionDataset {
  readonly annFile: string;
  readonly imgDir: string;
  readonly isTrain: boolean;
  readonly onBadImage: 'error' | 'skip';
  readonly onBadBox: 'error' | 'clip' | 'skip';
  /** COCO category ids, ascending; label i is categoryIds[i]. */
  readonly categoryIds: number[];
  /** categories ascending by id (names for printing). */
  readonly categories: CocoCategoryInfo[];
  readonly numClasses: number;
  readonly stats: CocoDatasetStats;
  private readonly records: ImageRecord[];
  private readonly labelOfCategory = new Map<number, number>();
  private readonly badIndices = new Set<number>();
  private readonly log: (message: string) => void;

  constructor(opts: CocoDetectionDatasetOptions) {
    if (!opts || typeof opts.ann_file !== 'string' || typeof opts.img_dir !== 'string') {
      throw new Error('CocoDetectionDataset: options "ann_file" and "img_dir" (strings) are required');
    }
    this.annFile = path.resolve(opts.ann_file);
    this.imgDir = path.resolve(opts.img_dir);
    this.isTrain = opts.is_train ?? true;
    const filterEmpty = opts.filter_empty ?? this.isTrain;
    this.onBadImage = checkChoice(opts.on_bad_image ?? 'error', ['error', 'skip'], 'on_bad_image');
    this.onBadBox = checkChoice(opts.on_bad_box ?? 'clip', ['error', 'clip', 'skip'], 'on_bad_box');
    this.log = opts.log ?? ((m) => console.warn(m));
    if (!fs.existsSync(this.imgDir) || !fs.statSync(this.imgDir).isDirectory()) {
      throw new Error(`CocoDetectionDataset: image folder '${opts.img_dir}' (img_dir) does not exist or is not a folder`);
    }

    const json = readCocoDetectionJson(this.annFile);
    this.categories = [...json.categories].sort((a, b) => a.id - b.id);
    this.categoryIds = this.categories.map((c) => c.id);
    this.categoryIds.forEach((id, label) => this.labelOfCategory.set(id, label));
    this.numClasses = this.categoryIds.length;

    const stats: CocoDatasetStats = {
      imagesInFile: json.images.length, annotationsInFile: json.annotations.length, images: 0, boxes: 0,
      crowdDropped: 0, degenerateDropped: 0, outsideDropped: 0, clipped: 0, partlyOutsideSkipped: 0,
      emptyImagesDropped: 0, missingImagesSkipped: 0, badImagesSkipped: 0,
    };
    this.stats = stats;

    // Group annotations by image, keeping json order within an image.
    const annsOfImage = new Map<number, number[]>();
    json.annotations.forEach((a, i) => {
      const list = annsOfImage.get(a.image_id);
      if (list) list.push(i);
      else annsOfImage.set(a.image_id, [i]);
    });

    const missing: string[] = [];
    this.records = [];
    for (const info of json.images) {
      const filePath = path.join(this.imgDir, info.file_name);
      const st = fs.statSync(filePath, { throwIfNoEntry: false });
      if (!st || !st.isFile()) {
        missing.push(info.file_name);
        continue;
      }
      const boxes: number[] = [];
      const labels: number[] = [];
      const crowd: number[] = [];
      let nonCrowd = 0;
      for (const ai of annsOfImage.get(info.id) ?? []) {
        const ann = json.annotations[ai];
        const isCrowd = ann.iscrowd === 1;
        if (isCrowd && this.isTrain) {
          stats.crowdDropped++;
          continue;
        }
        const box = this.checkBox(ann.bbox, info, `annotations[${ai}]${ann.id !== undefined ? ` (id ${ann.id})` : ''}`);
        if (!box) continue;
        boxes.push(...box);
        labels.push(this.labelOfCategory.get(ann.category_id)!);
        crowd.push(isCrowd ? 1 : 0);
        if (!isCrowd) nonCrowd++;
      }
      if (filterEmpty && nonCrowd === 0) {
        stats.emptyImagesDropped++;
        continue;
      }
      const record: ImageRecord = { info, filePath, boxes: new Float32Array(boxes), labels: new Int32Array(labels) };
      if (!this.isTrain) record.iscrowd = new Uint8Array(crowd);
      this.records.push(record);
    }
    if (missing.length > 0) {
      const list = missing.slice(0, 5).map((f) => `'${f}'`).join(', ') + (missing.length > 5 ? `, ... (${missing.length - 5} more)` : '');
      if (this.onBadImage === 'error') {
        throw new Error(`CocoDetectionDataset '${this.annFile}': ${missing.length} image file(s) missing in '${this.imgDir}': ${list} (set on_bad_image: 'skip' to skip them)`);
      }
      stats.missingImagesSkipped = missing.length;
      this.log(`CocoDetectionDataset '${this.annFile}': skipped ${missing.length} image(s) whose file is missing in '${this.imgDir}': ${list}`);
    }

    if (opts.verify_images) {
      const bad: string[] = [];
      const kept = this.records.filter((r) => {
        try {
          this.decode(r);
          return true;
        } catch (err) {
          if (!(err instanceof ImageDecodeError) || this.onBadImage === 'error') throw err;
          bad.push(`${r.info.file_name}: ${err.message}`);
          return false;
        }
      });
      if (bad.length > 0) {
        stats.badImagesSkipped += bad.length;
        this.log(`CocoDetectionDataset '${this.annFile}': skipped ${bad.length} unreadable image(s): ${bad.slice(0, 3).join('; ')}${bad.length > 3 ? '; ...' : ''}`);
        this.records = kept;
      }
    }

    stats.images = this.records.length;
    stats.boxes = this.records.reduce((n, r) => n + r.labels.length, 0);
    const notes = [
      [stats.crowdDropped, 'crowd boxes dropped'],
      [stats.degenerateDropped, 'boxes with no area dropped'],
      [stats.outsideDropped, 'boxes outside their image dropped'],
      [stats.clipped, 'boxes clipped to their image'],
      [stats.partlyOutsideSkipped, 'boxes partly outside their image dropped'],
      [stats.emptyImagesDropped, 'images without boxes dropped (filter_empty)'],
    ].filter(([n]) => (n as number) > 0);
    if (notes.length > 0) {
      this.log(`CocoDetectionDataset '${this.annFile}': ${stats.images} of ${stats.imagesInFile} images, ${stats.boxes} boxes kept; ${notes.map(([n, what]) => `${n} ${what}`).join(', ')}`);
    }
    if (this.records.length === 0) {
      throw new Error(`CocoDetectionDataset '${this.annFile}': no images left (${stats.imagesInFile} in the file; ${stats.emptyImagesDropped} without boxes, ${missing.length} missing)`);
    }
  }

  /** Returns the xyxy box to keep, or null (counted) to drop it; throws where on_bad_box is 'error'. */
  private checkBox(bbox: readonly number[], info: CocoImageInfo, where: string): [number, number, number, number] | null {
    const [x, y, w, h] = bbox;
    const W = info.width, H = info.height;
    const fail = (problem: string) =>
      new Error(`COCO annotation file '${this.annFile}': ${where} of image id ${info.id} ('${info.file_name}', ${W}x${H}): bbox ${JSON.stringify(bbox)} ${problem} (on_bad_box is 'error')`);
    if (!(w > 0 && h > 0)) {
      if (this.onBadBox === 'error') throw fail('has no area');
      this.stats.degenerateDropped++;
      return null;
    }
    const x0 = x, y0 = y, x1 = x + w, y1 = y + h;
    if (x1 <= 0 || y1 <= 0 || x0 >= W || y0 >= H) {
      if (this.onBadBox === 'error') throw fail('lies entirely outside the image');
      this.stats.outsideDropped++;
      return null;
    }
    if (x0 < 0 || y0 < 0 || x1 > W || y1 > H) {
      if (this.onBadBox === 'error') throw fail('lies partly outside the image');
      if (this.onBadBox === 'skip') {
        this.stats.partlyOutsideSkipped++;
        return null;
      }
      this.stats.clipped++;
      return [Math.max(x0, 0), Math.max(y0, 0), Math.min(x1, W), Math.min(y1, H)];
    }
    return [x0, y0, x1, y1];
  }

  private decode(record: ImageRecord) {
    const image = decodeImageSync(record.filePath);
    const { width, height } = record.info;
    if (image.width !== width || image.height !== height) {
      const exifHint = image.width === height && image.height === width ? ' (the file may carry an EXIF rotation that the json does not account for)' : '';
      throw new ImageDecodeError(record.filePath, `decoded size ${image.width}x${image.height} differs from the json's ${width}x${height} for image id ${record.info.id}${exifHint}`);
    }
    return image;
  }

  get length(): number {
    return this.records.length;
  }

  /** Image entry of the json for a dataset index. */
  imageInfo(index: number): CocoImageInfo {
    return this.record(index).info;
  }

  private record(index: number): ImageRecord {
    const r = this.records[index];
    if (!Number.isInteger(index) || !r) throw new RangeError(`CocoDetectionDataset: index ${index} out of range [0, ${this.records.length})`);
    return r;
  }

  /** The decoded image with its boxes (absolute xyxy, already clipped / filtered) and contiguous labels. Throws ImageDecodeError for a bad file. */
  get(index: number): DetectionSample {
    const r = this.record(index);
    const image = this.decode(r);
    const sample: DetectionSample = {
      imageId: r.info.id,
      fileName: r.info.file_name,
      image,
      boxes: r.boxes.slice(),
      labels: r.labels.slice(),
      origSize: [r.info.height, r.info.width],
    };
    if (r.iscrowd) sample.iscrowd = r.iscrowd.slice();
    return sample;
  }

  /** Called by the data loader when `get(index)` failed and on_bad_image is 'skip': counts and logs the image once. */
  noteSkippedImage(index: number, error: Error): void {
    if (this.badIndices.has(index)) return;
    this.badIndices.add(index);
    this.stats.badImagesSkipped++;
    this.log(`CocoDetectionDataset '${this.annFile}': skipping unreadable image (${this.stats.badImagesSkipped} so far): ${error.message}`);
  }

  labelToCategoryId(label: number): number {
    const id = this.categoryIds[label];
    if (!Number.isInteger(label) || id === undefined) throw new RangeError(`CocoDetectionDataset: label ${label} out of range [0, ${this.numClasses})`);
    return id;
  }

  categoryIdToLabel(id: number): number {
    const label = this.labelOfCategory.get(id);
    if (label === undefined) throw new RangeError(`CocoDetectionDataset: category id ${id} is not in '${this.annFile}' (known: ${this.categoryIds.join(', ')})`);
    return label;
  }
}

function checkChoice<T extends string>(value: T, allowed: readonly T[], name: string): T {
  if (!allowed.includes(value)) throw new Error(`CocoDetectionDataset: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}
