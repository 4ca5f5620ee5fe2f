export { COCO, type AnnIdFilter, type CatIdFilter, type ImgIdFilter, type DetectionRows } from './coco';
export { COCOeval, type COCOevalOptions, type EvalImg, type EvalResult, type CategoryStats } from './cocoeval';
export { Params, type AreaRange } from './params';
export { evaluateBbox, type EvaluateBboxOptions, type BboxEvaluation } from './evaluate-bbox';
export { STAT_NAMES, type SummaryQuery } from './summarize';
export { CocoInputError } from './errors';
export type { RegionGeometry } from './region-geometry';
export type {
  BboxXYWH,
  CocoAnnotation,
  CocoCategory,
  CocoDataset,
  CocoDetection,
  CocoImage,
  IouType,
} from './types';
