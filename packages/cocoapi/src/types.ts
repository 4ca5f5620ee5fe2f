/**
 * The COCO json formats, as pycocotools reads them (cocodataset/cocoapi PythonAPI/pycocotools/coco.py).
 * Only the fields the API and COCOeval use are typed; any other field is kept as is.
 */

/** `[x, y, width, height]` in pixels, (x, y) the top-left corner. */
export type BboxXYWH = [number, number, number, number];

export interface CocoImage {
  id: number;
  file_name?: string;
  width?: number;
  height?: number;
  [field: string]: unknown;
}

export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
  [field: string]: unknown;
}

/** A ground-truth annotation (or, after `loadRes`, a detection with `id`, `area` and `iscrowd` added). */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: number[];
  /** Used by COCOeval for the small / medium / large ranges (not `w*h`; for ground truth it is the mask area). */
  area: number;
  /** 0/1 or boolean; missing means 0. Crowd regions are ignored and matched by intersection over detection area. */
  iscrowd?: number | boolean;
  segmentation?: unknown;
  score?: number;
  [field: string]: unknown;
}

export interface CocoDataset {
  info?: Record<string, unknown>;
  licenses?: unknown[];
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
  [field: string]: unknown;
}

/** One entry of a COCO results file (detectron2's `coco_instances_results.json`). */
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: number[];
  score: number;
  [field: string]: unknown;
}

/** Region types COCOeval knows; only 'bbox' is implemented so far (see region-geometry.ts). */
export type IouType = 'bbox' | 'segm';
