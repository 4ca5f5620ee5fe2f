/**
 * What a criterion needs from a matcher: match one output (already pulled to the CPU) against the
 * targets, with k queries per GT (k = 1: one-to-one). Matching runs outside the gradient tape.
 */
import type { ImageMatch } from './match_result';
import type { PredictionData, PredictionTensors } from './prediction_data';
import type { DetectionTarget } from './targets';

export interface Matcher {
  /** True when `k > 1` is supported (many-to-one matching, Align-DETR's MixedMatcher). */
  readonly manyToOne: boolean;
  /** Match pulled predictions; `k` is the number of queries per GT (default 1). */
  matchData(pred: PredictionData, targets: readonly DetectionTarget[], k?: number): ImageMatch[];
  /** Convenience: pull `outputs` (named `layer` in errors) and match. */
  match(outputs: PredictionTensors, targets: readonly DetectionTarget[], opts?: { k?: number; layer?: string }): ImageMatch[];
}
