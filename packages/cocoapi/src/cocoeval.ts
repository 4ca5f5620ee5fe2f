import { accumulateCells, type Accumulated } from './accumulate';
import type { COCO } from './coco';
import { buildDtRows, buildGtRows, type DtRows, type EvalLayout, type GtRows } from './eval-rows';
import { CellScratch, evaluateCells, sortGtForArea, type CellEvaluation } from './evaluate-cells';
import { matchCell } from './match-cell';
import { Params, type AreaRange } from './params';
import { createRegionGeometry, type RegionGeometry } from './region-geometry';
import { STAT_NAMES, detectionQueries, summaryLine, summaryValue } from './summarize';
import type { IouType } from './types';

/** pycocotools' per-image, per-category result (`evaluateImg`'s dict), materialised on request. */
export interface EvalImg {
  image_id: number;
  category_id: number;
  aRng: AreaRange;
  maxDet: number;
  dtIds: number[];
  gtIds: number[];
  /** [T][D]: id of the matched ground truth, 0 if none. */
  dtMatches: number[][];
  /** [T][G]: id of the matched detection, 0 if none (ground truths in ignore-sorted order). */
  gtMatches: number[][];
  dtScores: number[];
  gtIgnore: number[];
  /** [T][D] */
  dtIgnore: number[][];
}

/** `self.eval` of pycocotools, with flat C-order arrays (see Accumulated). */
export interface EvalResult extends Accumulated {
  params: Params;
  date: string;
}

/** Per-category summary: the 12 stats restricted to one category (-1 where it has no ground truth in range). */
export interface CategoryStats {
  categoryId: number;
  name: string;
  stats: number[];
}

interface EvaluationState {
  params: Params;
  layout: EvalLayout;
  gt: GtRows;
  dt: DtRows;
  geometry: RegionGeometry;
  cells: CellEvaluation;
}

function uniqueSorted(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

export interface COCOevalOptions {
  /** Progress messages ("Running per image evaluation..."); silent when not given. */
  log?: (line: string) => void;
}

/**
 * COCOeval with pycocotools semantics (pycocotools/cocoeval.py) for `iouType: 'bbox'`:
 * `evaluate()`, `accumulate()`, `summarize()` give pycocotools' numbers (stats agree to the last bit on the
 * reference cases in test/fixtures). Internally, detections and ground truths are grouped into typed arrays
 * per (category, image) cell; `evaluateImg` and `computeIoU` rebuild pycocotools' per-image records on request.
 */
export class COCOeval {
  readonly cocoGt: COCO;
  readonly cocoDt: COCO;
  params: Params;
  stats: number[] = [];
  eval: EvalResult | null = null;
  private state: EvaluationState | null = null;
  private readonly log: (line: string) => void;

  constructor(cocoGt: COCO, cocoDt: COCO, iouType: IouType = 'bbox', options: COCOevalOptions = {}) {
    this.cocoGt = cocoGt;
    this.cocoDt = cocoDt;
    this.params = new Params(iouType);
    this.params.imgIds = uniqueSorted(cocoGt.getImgIds());
    this.params.catIds = uniqueSorted(cocoGt.getCatIds());
    this.log = options.log ?? (() => {});
  }

  /** Per-image evaluation of every (category, image, area range) (pycocotools `evaluate`). */
  evaluate(): void {
    const tic = performance.now();
    const p = this.params;
    this.log(`Running per image evaluation...\nEvaluate annotation type *${p.iouType}*`);
    p.imgIds = uniqueSorted(p.imgIds);
    p.catIds = uniqueSorted(p.catIds);
    p.maxDets = [...p.maxDets].sort((a, b) => a - b);
    if (p.maxDets.length === 0) throw new RangeError('params.maxDets is empty');
    const layout: EvalLayout = {
      imgIds: p.imgIds,
      catIds: p.catIds,
      useCats: p.useCats,
      K: p.useCats ? p.catIds.length : 1,
      I: p.imgIds.length,
    };
    const gt = buildGtRows(this.cocoGt.dataset.annotations, layout);
    const dt = buildDtRows(this.cocoDt.dataset.annotations, layout, p.maxDets[p.maxDets.length - 1]);
    const geometry = createRegionGeometry(p.iouType, dt.anns, gt.anns);
    const cells = evaluateCells(layout, gt, dt, geometry, p.iouThrs, p.areaRng);
    this.state = { params: p.clone(), layout, gt, dt, geometry, cells };
    this.eval = null;
    this.log(`DONE (t=${((performance.now() - tic) / 1000).toFixed(2)}s).`);
  }

  /** Precision / recall / scores tables over all cells (pycocotools `accumulate`, with the evaluated params). */
  accumulate(): EvalResult {
    if (!this.state) throw new Error('Please run evaluate() first');
    const tic = performance.now();
    this.log('Accumulating evaluation results...');
    const { params: pe, layout, dt, cells } = this.state;
    const acc = accumulateCells(layout, dt, cells, pe.iouThrs, pe.recThrs, pe.areaRng.length, pe.maxDets);
    this.eval = { ...acc, params: this.params, date: new Date().toISOString() };
    this.log(`DONE (t=${((performance.now() - tic) / 1000).toFixed(2)}s).`);
    return this.eval;
  }

  /**
   * The 12 summary stats (pycocotools `summarize` for bbox/segm); prints the same 12 lines through `print`
   * (default console.log, `null` for silence). Sets and returns `this.stats`.
   */
  summarize(print: ((line: string) => void) | null = console.log): number[] {
    if (!this.eval) throw new Error('Please run accumulate() first');
    const p = this.params;
    const queries = detectionQueries(p.maxDets);
    this.stats = queries.map((q) => {
      const value = summaryValue(this.eval!, p, q);
      print?.(summaryLine(p, q, value));
      return value;
    });
    return this.stats;
  }

  /** The summary lines without printing (after accumulate). */
  summaryLines(): string[] {
    const lines: string[] = [];
    this.summarize((line) => lines.push(line));
    return lines;
  }

  /**
   * The 12 stats for each evaluated category (the summary restricted to that category's K index). Empty when
   * categories are pooled (`useCats=false`).
   */
  perCategory(): CategoryStats[] {
    if (!this.eval || !this.state) throw new Error('Please run accumulate() first');
    if (!this.state.layout.useCats) return [];
    const p = this.params;
    const queries = detectionQueries(p.maxDets);
    return this.state.layout.catIds.map((catId, k) => ({
      categoryId: catId,
      name: this.cocoGt.cats.get(catId)?.name ?? String(catId),
      stats: queries.map((q) => summaryValue(this.eval!, p, q, [k])),
    }));
  }

  private cellOf(imgId: number, catId: number): { c: number; s: EvaluationState } {
    const s = this.state;
    if (!s) throw new Error('Please run evaluate() first');
    const i = s.layout.imgIds.indexOf(imgId);
    if (i < 0) throw new RangeError(`image ${imgId} was not evaluated`);
    if (!s.layout.useCats) return { c: i, s };
    const k = s.layout.catIds.indexOf(catId);
    if (k < 0) throw new RangeError(`category ${catId} was not evaluated`);
    return { c: k * s.layout.I + i, s };
  }

  /**
   * IoUs of one cell (pycocotools `computeIoU`): rows are detections by descending score (at most
   * maxDets[-1]), columns ground truths in file order. `catId` is ignored when categories are pooled.
   */
  computeIoU(imgId: number, catId: number): number[][] {
    const { c, s } = this.cellOf(imgId, catId);
    const dtStart = s.dt.cellStart[c];
    const nDt = s.dt.cellStart[c + 1] - dtStart;
    const gtStart = s.gt.cellStart[c];
    const nGt = s.gt.cellStart[c + 1] - gtStart;
    if (nDt === 0 || nGt === 0) return [];
    const out = new Float64Array(nDt * nGt);
    s.geometry.iou(dtStart, nDt, gtStart, nGt, s.gt.crowd, out);
    return Array.from({ length: nDt }, (_, d) => Array.from(out.subarray(d * nGt, (d + 1) * nGt)));
  }

  /**
   * pycocotools' `evaluateImg(imgId, catId, aRng, maxDet)` record, recomputed for one cell; null where
   * pycocotools returns None (no ground truth and no detection). `maxDet` is at most maxDets[-1].
   */
  evaluateImg(imgId: number, catId: number, aRng: AreaRange, maxDet: number): EvalImg | null {
    const { c, s } = this.cellOf(imgId, catId);
    const pe = s.params;
    if (maxDet > pe.maxDets[pe.maxDets.length - 1]) throw new RangeError(`maxDet ${maxDet} exceeds maxDets[-1] = ${pe.maxDets[pe.maxDets.length - 1]}`);
    const dtStart = s.dt.cellStart[c];
    const nDtAll = s.dt.cellStart[c + 1] - dtStart;
    const gtStart = s.gt.cellStart[c];
    const nGt = s.gt.cellStart[c + 1] - gtStart;
    if (nDtAll === 0 && nGt === 0) return null;
    const nDt = Math.min(nDtAll, maxDet);
    const T = pe.iouThrs.length;
    const scratch = new CellScratch();
    scratch.fit(T, nDtAll, nGt);
    if (nDt > 0 && nGt > 0) {
      // rows of the full maxDets[-1] IoU matrix restricted to the first nDt detections (same row-major layout)
      s.geometry.iou(dtStart, nDt, gtStart, nGt, s.gt.crowd, scratch.ious);
    }
    sortGtForArea(s.gt, gtStart, nGt, aRng, scratch);
    matchCell(pe.iouThrs, nDt, nGt, scratch.ious, scratch.gtOrder, scratch.gtIgnore, scratch.gtCrowd, s.dt.ids, dtStart, scratch);
    const gtIds = Array.from({ length: nGt }, (_, j) => s.gt.ids[gtStart + scratch.gtOrder[j]]);
    const dtMatches: number[][] = [];
    const dtIgnore: number[][] = [];
    const gtMatches: number[][] = [];
    for (let t = 0; t < T; t++) {
      const mRow: number[] = [];
      const igRow: number[] = [];
      for (let d = 0; d < nDt; d++) {
        const m = scratch.dtMatch[t * nDt + d];
        const gtId = m >= 0 ? gtIds[m] : 0;
        const area = s.dt.area[dtStart + d];
        const ignored = (m >= 0 && scratch.gtIgnore[m] === 1) || (gtId === 0 && (area < aRng[0] || area > aRng[1]));
        mRow.push(gtId);
        igRow.push(ignored ? 1 : 0);
      }
      dtMatches.push(mRow);
      dtIgnore.push(igRow);
      gtMatches.push(Array.from(scratch.gtMatch.subarray(t * nGt, (t + 1) * nGt)));
    }
    return {
      image_id: imgId,
      category_id: s.layout.useCats ? catId : -1,
      aRng,
      maxDet,
      dtIds: Array.from(s.dt.ids.subarray(dtStart, dtStart + nDt)),
      gtIds,
      dtMatches,
      gtMatches,
      dtScores: Array.from(s.dt.score.subarray(dtStart, dtStart + nDt)),
      gtIgnore: Array.from(scratch.gtIgnore.subarray(0, nGt)),
      dtIgnore,
    };
  }

  /** Stat names in `stats` order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl. */
  static readonly statNames = STAT_NAMES;
}
