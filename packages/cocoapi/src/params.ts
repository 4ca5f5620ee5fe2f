import { pycocoRange } from './numpy-compat';
import type { IouType } from './types';

/** An area range `[lo, hi]`: an object is inside when `lo <= area <= hi`. */
export type AreaRange = [number, number];

/**
 * Evaluation parameters (pycocotools/cocoeval.py `Params.setDetParams`). Defaults: IoU thresholds
 * 0.50:0.05:0.95 and recall thresholds 0:0.01:1 built with numpy's `linspace` rounding, maxDets 1/10/100,
 * area ranges all / small (< 32²) / medium (32²..96²) / large (> 96²).
 */
export class Params {
  /** Images to evaluate; COCOeval fills in all ground-truth images (sorted). */
  imgIds: number[] = [];
  /** Categories to evaluate; COCOeval fills in all ground-truth categories (sorted). */
  catIds: number[] = [];
  iouThrs: number[] = pycocoRange(0.5, 0.95, 0.05);
  recThrs: number[] = pycocoRange(0.0, 1.0, 0.01);
  maxDets: number[] = [1, 10, 100];
  areaRng: AreaRange[] = [
    [0 ** 2, 1e5 ** 2],
    [0 ** 2, 32 ** 2],
    [32 ** 2, 96 ** 2],
    [96 ** 2, 1e5 ** 2],
  ];
  areaRngLbl: string[] = ['all', 'small', 'medium', 'large'];
  /** When false, categories are pooled as in proposal scoring (pycocotools `useCats=0`). */
  useCats = true;
  iouType: IouType;

  constructor(iouType: IouType = 'bbox') {
    if (iouType !== 'bbox' && iouType !== 'segm') {
      throw new RangeError(`iouType '${String(iouType)}' is not supported (expected 'bbox'; 'segm' is planned)`);
    }
    this.iouType = iouType;
  }

  /** A deep copy (pycocotools keeps `copy.deepcopy(self.params)` as `_paramsEval`). */
  clone(): Params {
    const p = new Params(this.iouType);
    p.imgIds = [...this.imgIds];
    p.catIds = [...this.catIds];
    p.iouThrs = [...this.iouThrs];
    p.recThrs = [...this.recThrs];
    p.maxDets = [...this.maxDets];
    p.areaRng = this.areaRng.map(([lo, hi]) => [lo, hi] as AreaRange);
    p.areaRngLbl = [...this.areaRngLbl];
    p.useCats = this.useCats;
    return p;
  }
}
