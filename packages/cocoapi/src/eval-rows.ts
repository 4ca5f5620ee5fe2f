import type { CocoAnnotation } from './types';
import { crowdFlag } from './validate';

/**
 * Ground truths and detections regrouped for evaluation into "cells": one cell per (category, image) pair, or
 * per image when categories are pooled (`useCats=false`). Cell `c = k * I + i` for category group k and image i
 * (indices into the sorted evaluated ids). Rows of a cell are contiguous, so a category's detections over all
 * images are one contiguous range, in image order: exactly the concatenation order pycocotools' accumulate uses.
 *
 * Row order inside a cell reproduces pycocotools' `_prepare` / `evaluateImg`:
 *  - ground truths in file order (pooled categories: by category id, then file order);
 *  - detections sorted by descending score, stable (`np.argsort(-scores, kind='mergesort')`), then cut to
 *    `maxDets[-1]`.
 */
export interface EvalLayout {
  /** Evaluated image ids, unique and ascending (pycocotools `np.unique(p.imgIds)`). */
  imgIds: number[];
  /** Evaluated category ids, unique and ascending. */
  catIds: number[];
  useCats: boolean;
  /** Number of category groups: catIds.length, or 1 when pooled. */
  K: number;
  /** Number of images. */
  I: number;
}

export interface GtRows {
  /** Rows of cell c are `cellStart[c] .. cellStart[c+1]`. Length K*I+1. */
  cellStart: Int32Array;
  anns: CocoAnnotation[];
  ids: Float64Array;
  area: Float64Array;
  /** iscrowd, which is also pycocotools' ignore flag (`gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']`). */
  crowd: Uint8Array;
}

export interface DtRows {
  cellStart: Int32Array;
  anns: CocoAnnotation[];
  ids: Float64Array;
  area: Float64Array;
  score: Float64Array;
  /** Position of the row inside its cell after the score sort (0 = highest score). */
  rank: Int32Array;
}

/** Stable counting sort of `items` by `keyOf[item]` in [0, nKeys). */
function countingSort(items: Int32Array, keyOf: Int32Array, nKeys: number): { sorted: Int32Array; start: Int32Array } {
  const start = new Int32Array(nKeys + 1);
  for (let j = 0; j < items.length; j++) start[keyOf[items[j]] + 1]++;
  for (let c = 0; c < nKeys; c++) start[c + 1] += start[c];
  const fill = start.slice(0, nKeys);
  const sorted = new Int32Array(items.length);
  for (let j = 0; j < items.length; j++) sorted[fill[keyOf[items[j]]]++] = items[j];
  return { sorted, start };
}

/** Indices of the annotations that take part (image and category evaluated) in cell order, and the cell starts. */
function groupIntoCells(anns: readonly CocoAnnotation[], layout: EvalLayout): { order: Int32Array; cellStart: Int32Array } {
  const imgIndex = new Map<number, number>();
  layout.imgIds.forEach((id, i) => imgIndex.set(id, i));
  const catIndex = new Map<number, number>();
  layout.catIds.forEach((id, k) => catIndex.set(id, k));
  const n = anns.length;
  const cellOf = new Int32Array(n);
  const catOf = new Int32Array(n);
  const picked = new Int32Array(n);
  let m = 0;
  for (let j = 0; j < n; j++) {
    const a = anns[j];
    const i = imgIndex.get(a.image_id);
    if (i === undefined) continue;
    const k = catIndex.get(a.category_id);
    if (k === undefined) continue;
    cellOf[j] = layout.useCats ? k * layout.I + i : i;
    catOf[j] = k;
    picked[m++] = j;
  }
  let items: Int32Array = picked.subarray(0, m);
  // Pooled categories: pycocotools concatenates per category (`for cId in p.catIds`), so order by category first.
  if (!layout.useCats) items = countingSort(items, catOf, layout.catIds.length).sorted;
  const { sorted, start } = countingSort(items, cellOf, layout.K * layout.I);
  return { order: sorted, cellStart: start };
}

export function buildGtRows(anns: readonly CocoAnnotation[], layout: EvalLayout): GtRows {
  const { order, cellStart } = groupIntoCells(anns, layout);
  const n = order.length;
  const rows: GtRows = {
    cellStart,
    anns: new Array<CocoAnnotation>(n),
    ids: new Float64Array(n),
    area: new Float64Array(n),
    crowd: new Uint8Array(n),
  };
  for (let r = 0; r < n; r++) {
    const a = anns[order[r]];
    rows.anns[r] = a;
    rows.ids[r] = a.id;
    rows.area[r] = a.area;
    rows.crowd[r] = crowdFlag(a.iscrowd) ? 1 : 0;
  }
  return rows;
}

/** Sorts `idx[0..n)` by descending `score`, keeping the given order among equal scores (a stable sort). */
function sortByScoreDesc(idx: number[], score: Float64Array): void {
  const n = idx.length;
  if (n <= 32) {
    for (let j = 1; j < n; j++) {
      const v = idx[j];
      const s = score[v];
      let p = j - 1;
      while (p >= 0 && score[idx[p]] < s) {
        idx[p + 1] = idx[p];
        p--;
      }
      idx[p + 1] = v;
    }
    return;
  }
  idx.sort((a, b) => score[b] - score[a]); // Array.prototype.sort is stable (ES2019)
}

export function buildDtRows(anns: readonly CocoAnnotation[], layout: EvalLayout, maxDet: number): DtRows {
  const { order, cellStart: groupedStart } = groupIntoCells(anns, layout);
  const nCells = layout.K * layout.I;
  const score = new Float64Array(order.length);
  for (let r = 0; r < order.length; r++) score[r] = anns[order[r]].score as number;
  const kept = new Int32Array(order.length); // grouped-row indices, sorted within cells and cut to maxDet
  const rank = new Int32Array(order.length);
  const cellStart = new Int32Array(nCells + 1);
  const cellRows: number[] = [];
  let n = 0;
  for (let c = 0; c < nCells; c++) {
    cellStart[c] = n;
    const lo = groupedStart[c];
    const hi = groupedStart[c + 1];
    if (hi === lo) continue;
    cellRows.length = 0;
    for (let r = lo; r < hi; r++) cellRows.push(r);
    sortByScoreDesc(cellRows, score);
    const keep = Math.min(cellRows.length, maxDet);
    for (let j = 0; j < keep; j++) {
      kept[n] = cellRows[j];
      rank[n] = j;
      n++;
    }
  }
  cellStart[nCells] = n;
  const rows: DtRows = {
    cellStart,
    anns: new Array<CocoAnnotation>(n),
    ids: new Float64Array(n),
    area: new Float64Array(n),
    score: new Float64Array(n),
    rank: rank.slice(0, n),
  };
  for (let r = 0; r < n; r++) {
    const g = kept[r];
    const a = anns[order[g]];
    rows.anns[r] = a;
    rows.ids[r] = a.id;
    rows.area[r] = a.area;
    rows.score[r] = score[g];
  }
  return rows;
}
