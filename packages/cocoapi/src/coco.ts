import { CocoInputError } from './errors';
import { readJsonFile } from './read-json';
import type { CocoAnnotation, CocoCategory, CocoDataset, CocoDetection, CocoImage } from './types';
import { crowdFlag, validateDataset, validateDetections } from './validate';

/** Filters of `getAnnIds` (pycocotools `COCO.getAnnIds(imgIds, catIds, areaRng, iscrowd)`). */
export interface AnnIdFilter {
  imgIds?: number | readonly number[];
  catIds?: number | readonly number[];
  /** Keeps annotations with `lo < area < hi` (strict, as pycocotools). */
  areaRng?: readonly [number, number] | readonly number[];
  /** Keeps annotations whose iscrowd flag equals this (missing iscrowd counts as 0). */
  iscrowd?: boolean | number | null;
}

export interface CatIdFilter {
  catNms?: string | readonly string[];
  supNms?: string | readonly string[];
  catIds?: number | readonly number[];
}

export interface ImgIdFilter {
  imgIds?: number | readonly number[];
  /** Images that contain every one of these categories. */
  catIds?: number | readonly number[];
}

/** A results array as pycocotools' `loadNumpyAnnotations` reads it: rows `[image_id, x, y, w, h, score, category_id]`. */
export type DetectionRows = ArrayLike<ArrayLike<number>>;

interface CocoIndex {
  anns: Map<number, CocoAnnotation>;
  imgs: Map<number, CocoImage>;
  cats: Map<number, CocoCategory>;
  imgToAnns: Map<number, CocoAnnotation[]>;
  catToImgs: Map<number, number[]>;
}

function asList<T>(x: T | readonly T[] | undefined): readonly T[] {
  if (x === undefined) return [];
  return Array.isArray(x) ? (x as readonly T[]) : [x as T];
}

function isRowArray(x: unknown): x is DetectionRows {
  return Array.isArray(x) && x.length > 0 && (Array.isArray(x[0]) || ArrayBuffer.isView(x[0]));
}

/**
 * The COCO API (pycocotools/coco.py `COCO`): loads an annotation file or object, indexes images, annotations
 * and categories, and answers the same queries. Input is checked on load (see validate.ts), so a malformed
 * file fails here with the item named instead of deep inside COCOeval.
 */
export class COCO {
  dataset: CocoDataset = { images: [], annotations: [], categories: [] };
  private index: CocoIndex | null = null;
  /** Where the data came from, for error messages: a file path, '<object>' or '<results>'. */
  readonly source: string;
  /** Set by `loadRes`: category ids of detections that are not ground-truth categories (COCOeval skips them). */
  unknownCategoryIds: number[] = [];

  /** @param annotation a COCO json file path, a dataset object, or nothing (an empty COCO, as `COCO()`). */
  constructor(annotation?: string | CocoDataset) {
    if (annotation === undefined) {
      this.source = '<empty>';
      return;
    }
    if (typeof annotation === 'string') {
      this.source = annotation;
      this.dataset = validateDataset(readJsonFile(annotation, 'ground-truth file'), annotation);
    } else {
      this.source = '<object>';
      this.dataset = validateDataset(annotation, this.source);
    }
    this.createIndex();
  }

  /** A COCO over an already checked dataset (used by `loadRes`); its index is built on first use. */
  private static fromChecked(dataset: CocoDataset, source: string): COCO {
    const coco = new COCO();
    (coco as { source: string }).source = source;
    coco.dataset = dataset;
    coco.index = null;
    return coco;
  }

  /** Annotations by id. The lookup tables are built on first use (COCOeval itself reads only `dataset`). */
  get anns(): Map<number, CocoAnnotation> {
    return this.lookupTables().anns;
  }

  get imgs(): Map<number, CocoImage> {
    return this.lookupTables().imgs;
  }

  get cats(): Map<number, CocoCategory> {
    return this.lookupTables().cats;
  }

  get imgToAnns(): Map<number, CocoAnnotation[]> {
    return this.lookupTables().imgToAnns;
  }

  get catToImgs(): Map<number, number[]> {
    return this.lookupTables().catToImgs;
  }

  private lookupTables(): CocoIndex {
    if (this.index === null) this.createIndex();
    return this.index!;
  }

  /** (Re)builds the lookup tables from `dataset` (pycocotools `createIndex`). */
  createIndex(): void {
    const anns = new Map<number, CocoAnnotation>();
    const imgs = new Map<number, CocoImage>();
    const cats = new Map<number, CocoCategory>();
    const imgToAnns = new Map<number, CocoAnnotation[]>();
    const catToImgs = new Map<number, number[]>();
    for (const ann of this.dataset.annotations) {
      const list = imgToAnns.get(ann.image_id);
      if (list) list.push(ann);
      else imgToAnns.set(ann.image_id, [ann]);
      anns.set(ann.id, ann);
      const imgsOfCat = catToImgs.get(ann.category_id);
      if (imgsOfCat) imgsOfCat.push(ann.image_id);
      else catToImgs.set(ann.category_id, [ann.image_id]);
    }
    for (const img of this.dataset.images) imgs.set(img.id, img);
    for (const cat of this.dataset.categories) cats.set(cat.id, cat);
    this.index = { anns, imgs, cats, imgToAnns, catToImgs };
  }

  /**
   * Annotation ids that pass every given filter (an empty filter passes everything). Order: by the given
   * image ids, then file order; without image ids, file order.
   */
  getAnnIds(filter: AnnIdFilter = {}): number[] {
    const imgIds = asList(filter.imgIds);
    const catIds = asList(filter.catIds);
    const areaRng = filter.areaRng ?? [];
    let anns: readonly CocoAnnotation[];
    if (imgIds.length === 0) anns = this.dataset.annotations;
    else {
      const picked: CocoAnnotation[] = [];
      for (const id of imgIds) {
        const list = this.imgToAnns.get(id);
        if (list) for (const a of list) picked.push(a);
      }
      anns = picked;
    }
    if (catIds.length > 0) {
      const wanted = new Set(catIds);
      anns = anns.filter((a) => wanted.has(a.category_id));
    }
    if (areaRng.length > 0) {
      if (areaRng.length !== 2) throw new RangeError(`getAnnIds: areaRng must be [lo, hi], got ${JSON.stringify(areaRng)}`);
      const [lo, hi] = areaRng as readonly [number, number];
      anns = anns.filter((a) => a.area > lo && a.area < hi);
    }
    if (filter.iscrowd !== undefined && filter.iscrowd !== null) {
      const want = Number(filter.iscrowd);
      anns = anns.filter((a) => crowdFlag(a.iscrowd) === want);
    }
    return anns.map((a) => a.id);
  }

  /** Category ids matching the names, supercategory names and ids given (file order). */
  getCatIds(filter: CatIdFilter = {}): number[] {
    const names = asList(filter.catNms);
    const superNames = asList(filter.supNms);
    const ids = asList(filter.catIds);
    let cats: readonly CocoCategory[] = this.dataset.categories;
    if (names.length > 0) cats = cats.filter((c) => names.includes(c.name));
    if (superNames.length > 0) cats = cats.filter((c) => c.supercategory !== undefined && superNames.includes(c.supercategory));
    if (ids.length > 0) cats = cats.filter((c) => ids.includes(c.id));
    return cats.map((c) => c.id);
  }

  /**
   * Image ids: all images (file order) without filters; otherwise the given ids that exist, intersected with
   * the images containing each of `catIds`. Returned in ascending order (pycocotools returns a set's order).
   */
  getImgIds(filter: ImgIdFilter = {}): number[] {
    const imgIds = asList(filter.imgIds);
    const catIds = asList(filter.catIds);
    if (imgIds.length === 0 && catIds.length === 0) return [...this.imgs.keys()];
    let ids: Set<number> | null = imgIds.length > 0 ? new Set(imgIds.filter((id) => this.imgs.has(id))) : null;
    for (const catId of catIds) {
      const withCat = new Set(this.catToImgs.get(catId) ?? []);
      ids = ids === null ? withCat : new Set([...ids].filter((id) => withCat.has(id)));
    }
    return [...(ids ?? [])].sort((a, b) => a - b);
  }

  loadAnns(ids: number | readonly number[]): CocoAnnotation[] {
    return asList(ids).map((id) => lookup(this.anns, id, 'annotation'));
  }

  loadCats(ids: number | readonly number[]): CocoCategory[] {
    return asList(ids).map((id) => lookup(this.cats, id, 'category'));
  }

  loadImgs(ids: number | readonly number[]): CocoImage[] {
    return asList(ids).map((id) => lookup(this.imgs, id, 'image'));
  }

  /**
   * Loads detection results against this ground truth (pycocotools `COCO.loadRes`, bbox results): from a
   * results file path, an array of `{image_id, category_id, bbox, score}`, or `[N][7]` rows. Every detection
   * gets `area = w*h`, `id = index + 1` and `iscrowd = 0`. Objects passed in are copied, not modified.
   * Unlike pycocotools, an empty results array is accepted (no detections) and no polygon `segmentation` is added.
   */
  loadRes(results: string | readonly CocoDetection[] | DetectionRows): COCO {
    let raw: unknown;
    let source: string;
    let owned: boolean;
    if (typeof results === 'string') {
      source = results;
      raw = readJsonFile(results, 'detections file');
      owned = true;
    } else if (isRowArray(results)) {
      source = '<results rows>';
      raw = COCO.loadNumpyAnnotations(results);
      owned = true;
    } else {
      source = '<results>';
      raw = results;
      owned = false;
    }
    const dets = validateDetections(raw, source, (id) => this.imgs.has(id));
    const annotations = new Array<CocoAnnotation>(dets.length);
    const unknownCats = new Set<number>();
    for (let i = 0; i < dets.length; i++) {
      const det = dets[i];
      const bb = det.bbox;
      let ann: CocoAnnotation;
      if (owned) {
        // parsed here: add the fields in place (pycocotools does the same to its loaded list)
        ann = det as unknown as CocoAnnotation;
        ann.area = bb[2] * bb[3];
        ann.id = i + 1;
        ann.iscrowd = 0;
      } else {
        // the caller's objects stay untouched; a fresh literal keeps V8 fast (adding fields to spread copies is ~30x slower)
        ann = { image_id: det.image_id, category_id: det.category_id, bbox: bb, score: det.score, area: bb[2] * bb[3], id: i + 1, iscrowd: 0 };
        if (Object.keys(det).length !== 4) {
          for (const key of Object.keys(det)) if (!(key in ann)) ann[key] = det[key];
        }
      }
      annotations[i] = ann;
      if (!this.cats.has(det.category_id)) unknownCats.add(det.category_id);
    }
    const res = COCO.fromChecked(
      {
        images: [...this.dataset.images],
        categories: this.dataset.categories.map((c) => ({ ...c })),
        annotations,
      },
      source,
    );
    res.unknownCategoryIds = [...unknownCats].sort((a, b) => a - b);
    return res;
  }

  /** Rows `[image_id, x, y, w, h, score, category_id]` to detection objects (pycocotools `loadNumpyAnnotations`). */
  static loadNumpyAnnotations(rows: DetectionRows): CocoDetection[] {
    const out = new Array<CocoDetection>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (r.length !== 7) throw new CocoInputError(`detection rows: row ${i} has ${r.length} values; expected 7 [image_id, x, y, w, h, score, category_id]`);
      out[i] = { image_id: Math.trunc(r[0]), bbox: [r[1], r[2], r[3], r[4]], score: r[5], category_id: Math.trunc(r[6]) };
    }
    return out;
  }
}

function lookup<T>(map: Map<number, T>, id: number, what: string): T {
  const v = map.get(id);
  if (v === undefined) throw new RangeError(`no ${what} with id ${id}`);
  return v;
}
