import { COCO } from './coco';
import { COCOeval, type CategoryStats } from './cocoeval';
import type { CocoDataset, CocoDetection } from './types';

export interface EvaluateBboxOptions {
  /** Restrict to these images (default: all ground-truth images). */
  imgIds?: number[];
  /** Restrict to these categories (default: all ground-truth categories). */
  catIds?: number[];
  /** Pool categories (pycocotools `useCats=0`). Default true. */
  useCats?: boolean;
  /** Default [1, 10, 100]. */
  maxDets?: number[];
  /** Receives the 12 summary lines; default: not printed. */
  print?: (line: string) => void;
}

export interface BboxEvaluation {
  /** The 12 pycocotools stats: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (-1 = no GT). */
  stats: number[];
  /** The same 12 stats per ground-truth category (empty when categories are pooled). */
  perCategory: CategoryStats[];
  /** The 12 summary lines, as pycocotools prints them. */
  summary: string[];
  /** Detection category ids absent from the ground truth; those detections were not evaluated. */
  unknownCategoryIds: number[];
}

/**
 * One-call COCO bbox evaluation (the training engine's entry point): ground truth as a file path, dataset
 * object or COCO; detections as a results file path, an array of `{image_id, category_id, bbox, score}`
 * (category ids are the dataset's, not contiguous class indices), or a COCO from `loadRes`.
 */
export function evaluateBbox(
  gt: string | CocoDataset | COCO,
  dt: string | readonly CocoDetection[] | COCO,
  options: EvaluateBboxOptions = {},
): BboxEvaluation {
  const cocoGt = gt instanceof COCO ? gt : new COCO(gt);
  const cocoDt = dt instanceof COCO ? dt : cocoGt.loadRes(dt);
  const E = new COCOeval(cocoGt, cocoDt, 'bbox');
  if (options.imgIds) E.params.imgIds = [...options.imgIds];
  if (options.catIds) E.params.catIds = [...options.catIds];
  if (options.useCats !== undefined) E.params.useCats = options.useCats;
  if (options.maxDets) E.params.maxDets = [...options.maxDets];
  E.evaluate();
  E.accumulate();
  const summary: string[] = [];
  const stats = E.summarize((line) => {
    summary.push(line);
    options.print?.(line);
  });
  return { stats, perCategory: E.perCategory(), summary, unknownCategoryIds: cocoDt.unknownCategoryIds };
}
