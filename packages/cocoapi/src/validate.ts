import { CocoInputError } from './errors';
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoDetection, CocoImage } from './types';

/**
 * Input checks with messages that name the file and the item. pycocotools itself checks almost nothing
 * (a missing key is a KeyError deep inside COCOeval, a foreign image id an anonymous assert); here every
 * such case is reported where it is found. Empty images and categories without annotations are normal.
 */

function show(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) return String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** `[x, y, w, h]`: four finite numbers, w and h not negative. Returns an error text or null. */
export function bboxProblem(bbox: unknown): string | null {
  if (bbox === undefined) return "has no 'bbox'";
  if (!Array.isArray(bbox) || bbox.length !== 4 || !bbox.every(isFiniteNumber)) {
    return `has bbox ${show(bbox)}; expected [x, y, width, height] with 4 finite numbers`;
  }
  if (bbox[2] < 0 || bbox[3] < 0) return `has a negative width or height in bbox ${show(bbox)}`;
  return null;
}

/** Normalises `iscrowd` (missing → 0; booleans and numbers accepted) or returns null when it is malformed. */
export function crowdFlag(iscrowd: unknown): number | null {
  if (iscrowd === undefined) return 0;
  if (typeof iscrowd === 'boolean') return iscrowd ? 1 : 0;
  if (isFiniteNumber(iscrowd)) return iscrowd;
  return null;
}

function checkIdList<T extends { id: number }>(list: unknown, key: string, source: string): T[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new CocoInputError(`${source}: '${key}' must be an array, got ${show(list)}`);
  const seen = new Set<number>();
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (!isObject(item)) throw new CocoInputError(`${source}: ${key}[${i}] must be an object, got ${show(item)}`);
    if (!isFiniteNumber(item.id)) throw new CocoInputError(`${source}: ${key}[${i}] has id ${show(item.id)}; expected a number`);
    if (seen.has(item.id)) throw new CocoInputError(`${source}: ${key}[${i}] repeats id ${item.id}`);
    seen.add(item.id);
  }
  return list as T[];
}

/**
 * Checks a ground-truth dataset: `images`, `categories`, `annotations` arrays (a missing key is empty),
 * unique ids, and per annotation: id, image_id of a listed image, category_id of a listed category,
 * bbox, area (COCOeval's area ranges use it), iscrowd (optional).
 */
export function validateDataset(raw: unknown, source: string): CocoDataset {
  if (!isObject(raw)) throw new CocoInputError(`${source}: the top level must be a JSON object with images/annotations/categories, got ${show(raw)}`);
  const images = checkIdList<CocoImage>(raw.images, 'images', source);
  const categories = checkIdList<CocoCategory>(raw.categories, 'categories', source);
  const anns = raw.annotations;
  if (anns !== undefined && !Array.isArray(anns)) throw new CocoInputError(`${source}: 'annotations' must be an array, got ${show(anns)}`);
  const annotations = (anns ?? []) as unknown[];
  const imageIds = new Set(images.map((im) => im.id));
  const categoryIds = new Set(categories.map((c) => c.id));
  const annIds = new Set<number>();
  for (let i = 0; i < annotations.length; i++) {
    const ann = annotations[i];
    if (!isObject(ann)) throw new CocoInputError(`${source}: annotations[${i}] must be an object, got ${show(ann)}`);
    const where = `${source}: annotations[${i}] (id ${show(ann.id)})`;
    if (!isFiniteNumber(ann.id)) throw new CocoInputError(`${where} has no numeric 'id'`);
    if (annIds.has(ann.id)) throw new CocoInputError(`${where} repeats an annotation id`);
    annIds.add(ann.id);
    if (!isFiniteNumber(ann.image_id) || !imageIds.has(ann.image_id)) {
      throw new CocoInputError(`${where} has image_id ${show(ann.image_id)}, which is not in 'images'`);
    }
    if (!isFiniteNumber(ann.category_id) || !categoryIds.has(ann.category_id)) {
      throw new CocoInputError(`${where} has category_id ${show(ann.category_id)}, which is not in 'categories'`);
    }
    const bad = bboxProblem(ann.bbox);
    if (bad) throw new CocoInputError(`${where} ${bad}`);
    if (!isFiniteNumber(ann.area) || ann.area < 0) {
      throw new CocoInputError(`${where} has area ${show(ann.area)}; expected a number >= 0 (COCOeval's area ranges use it)`);
    }
    if (crowdFlag(ann.iscrowd) === null) throw new CocoInputError(`${where} has iscrowd ${show(ann.iscrowd)}; expected 0, 1 or a boolean`);
  }
  return { ...raw, images, categories, annotations: annotations as CocoAnnotation[] };
}

/**
 * Checks a results array (`[{image_id, category_id, bbox, score}, ...]`): every image_id must be an image of
 * the ground truth (pycocotools asserts 'Results do not correspond to current coco set'; here the id is named),
 * bbox as for ground truth, score a finite number. A category_id outside the ground truth is allowed: COCOeval
 * never looks at it, as in pycocotools.
 */
export function validateDetections(raw: unknown, source: string, hasImage: (id: number) => boolean): CocoDetection[] {
  if (!Array.isArray(raw)) throw new CocoInputError(`${source}: results must be an array of detections, got ${show(raw)}`);
  for (let i = 0; i < raw.length; i++) {
    const det = raw[i];
    if (!isObject(det)) throw new CocoInputError(`${source}: detection ${i} must be an object, got ${show(det)}`);
    const where = `${source}: detection ${i}`;
    if (!isFiniteNumber(det.image_id)) throw new CocoInputError(`${where} has image_id ${show(det.image_id)}; expected a number`);
    if (!hasImage(det.image_id)) {
      throw new CocoInputError(`${where} has image_id ${det.image_id}, which is not an image of the ground truth`);
    }
    if (!isFiniteNumber(det.category_id)) throw new CocoInputError(`${where} has category_id ${show(det.category_id)}; expected a number`);
    const bad = bboxProblem(det.bbox);
    if (bad) {
      const hint = det.bbox === undefined && det.segmentation !== undefined ? ' (segmentation results are not supported yet)' : '';
      throw new CocoInputError(`${where} (image_id ${det.image_id}) ${bad}${hint}`);
    }
    if (!isFiniteNumber(det.score)) throw new CocoInputError(`${where} (image_id ${det.image_id}) has score ${show(det.score)}; expected a finite number`);
  }
  return raw as CocoDetection[];
}
