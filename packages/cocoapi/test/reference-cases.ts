import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Reference cases made by fixtures/make_reference.py with pycocotools (see fixtures/README.md). */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface ExpectedEvalImg {
  image_id: number;
  category_id: number;
  aRng: [number, number];
  maxDet: number;
  dtIds: number[];
  gtIds: number[];
  dtMatches: number[][];
  gtMatches: number[][];
  dtScores: number[];
  gtIgnore: number[];
  dtIgnore: number[][];
}

export interface ExpectedRun {
  stats: number[];
  summary: string[];
  recall: number[];
  recall_shape: number[];
  precision_sum_r: number[];
  scores_sum_r: number[];
  per_category?: Record<string, number[]>;
  evalImgs?: ExpectedEvalImg[];
  iouThrs?: number[];
  recThrs?: number[];
}

export interface ReferenceCase {
  gtPath: string;
  dtPath: string;
  /** useCats = 1 */
  cats: ExpectedRun;
  /** useCats = 0, where generated */
  pooled?: ExpectedRun;
}

export function referenceCase(name: string): ReferenceCase {
  const expected = JSON.parse(readFileSync(`${FIXTURES}${name}.expected.json`, 'utf8')) as { cats: ExpectedRun; pooled?: ExpectedRun };
  return { gtPath: `${FIXTURES}${name}.gt.json`, dtPath: `${FIXTURES}${name}.dt.json`, cats: expected.cats, pooled: expected.pooled };
}

export const CASE_NAMES = ['hand', 'thresholds', 'random_small', 'random_medium'] as const;
