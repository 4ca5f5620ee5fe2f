/**
 * The three losses of one matched output (Align-DETR `ManyToOneCriterion.get_loss`, which reduces to
 * detrex `SetCriterion.loss_labels` + `loss_boxes` with focal loss and no rank weights):
 * quality t from the detached matched score and IoU, ranks inside GT groups, the rank weight
 * w = w_prime[rank] (when a w_prime row is given), then the class loss and w-weighted L1 / GIoU.
 * The box losses run over all B*Q rows with per-row constant targets and weights (0 on unmatched rows)
 * instead of gathering the matched rows: the gradient of tf.gather needs UnsortedSegmentSum, which the
 * wasm backend lacks. Gather is used only if a matcher returned a query twice in one output.
 */
import * as tf from '@tensorflow/tfjs';
import type { DetectionTarget, ImageMatch, PredictionData, PredictionTensors } from '@detr/matchers';
import { boxLosses } from './losses/box_losses';
import type { ClassificationLoss } from './losses/classification_loss';
import { gatherMatchedPairs, matchedScoreAndIou } from './matched_pairs';
import { localRank } from './prime_sample_weighting';

/** Target of unmatched rows (weight 0): any box with a positive area keeps GIoU finite. */
const DUMMY_BOX = [0.5, 0.5, 1, 1];

export interface OutputLosses {
  loss_class: tf.Scalar;
  loss_bbox: tf.Scalar;
  loss_giou: tf.Scalar;
}

export interface OutputLossArgs {
  output: PredictionTensors;
  /** The same output pulled to the CPU (shared with the matcher). */
  pred: PredictionData;
  targets: readonly DetectionTarget[];
  matches: readonly ImageMatch[];
  numBoxes: number;
  classLoss: ClassificationLoss;
  /** Weight per rank (a weight_table row), or null for w = 1 (one-to-one, DN). */
  rankWeights: Float32Array | null;
}

/** Per-pair values, for tests and analysis. */
export interface OutputLossDetails {
  quality: Float32Array;
  rank: Int32Array | null;
  weight: Float32Array | null;
}

export function computeOutputLosses(args: OutputLossArgs, details?: OutputLossDetails): OutputLosses {
  const { output, pred, targets, matches, numBoxes, classLoss, rankWeights } = args;
  const pairs = gatherMatchedPairs(matches, targets, pred.numQueries, pred.numClasses, pred.layer);
  const { score, iou } = matchedScoreAndIou(pred, pairs);
  const quality = classLoss.quality(score, iou);
  let rank: Int32Array | null = null;
  let weight: Float32Array | null = null;
  if (rankWeights) {
    rank = localRank(quality, matches);
    weight = new Float32Array(pairs.count);
    for (let i = 0; i < pairs.count; i++) {
      if (rank[i] >= rankWeights.length) throw new Error(`${pred.layer}: rank ${rank[i]} has no prime-sample weight (match_num row has ${rankWeights.length})`);
      weight[i] = rankWeights[rank[i]];
    }
  }
  if (details) Object.assign(details, { quality, rank, weight });

  return tf.tidy(() => {
    const loss_class = classLoss.forward({ logits: output.pred_logits, positives: { entries: pairs.entries, quality, weight }, numBoxes });
    if (pairs.count === 0) {
      // No GT in the batch: zero box losses that still depend on pred_boxes (zero gradient, as torch).
      const zero = tf.mul(tf.sum(output.pred_boxes), 0) as tf.Scalar;
      return { loss_class, loss_bbox: zero, loss_giou: tf.clone(zero) };
    }
    const flatBoxes = tf.reshape(output.pred_boxes, [-1, 4]) as tf.Tensor2D; // [B*Q, 4]
    const numRows = flatBoxes.shape[0];
    const rowTargets = new Float32Array(numRows * 4);
    for (let r = 0; r < numRows; r++) rowTargets.set(DUMMY_BOX, 4 * r);
    const rowWeights = new Float32Array(numRows);
    const seen = new Uint8Array(numRows);
    let duplicate = false;
    for (let i = 0; i < pairs.count; i++) {
      const r = pairs.rows[i];
      if (seen[r]) duplicate = true;
      seen[r] = 1;
      rowTargets.set(pairs.targetBoxes.subarray(4 * i, 4 * i + 4), 4 * r);
      rowWeights[r] = weight ? weight[i] : 1;
    }
    if (duplicate) {
      // A query matched twice in one output (no matcher here does that): one row per pair.
      const src = tf.gather(flatBoxes, tf.tensor1d(pairs.rows, 'int32')) as tf.Tensor2D; // [M, 4]
      return { loss_class, ...boxLosses(src, pairs.targetBoxes, weight, numBoxes) };
    }
    return { loss_class, ...boxLosses(flatBoxes, rowTargets, rowWeights, numBoxes) };
  });
}
