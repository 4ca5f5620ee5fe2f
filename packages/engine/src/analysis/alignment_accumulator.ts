/**
 * The misalignment metrics over a data set, image by image (definitions: best_regressed.ts,
 * matched_samples.ts):
 *  - recall of BR samples at top-k for k = m*N (m = 1, 2 in the paper's Fig. 1a; more multiples give the
 *    curve), pooled over all GTs of all images (the paper's "45% and 48% BR samples are covered"), and
 *    also as the mean over images of each image's recall;
 *  - the IoU distributions of BR and HC samples (Fig. 1b);
 *  - the confidence / IoU pairs of matched outputs and their Pearson coefficient (Fig. 4).
 * Images without GT contribute to no metric (they are counted).
 */
import { pairwiseIouCxcywh } from './box_iou';
import { bestRegressedSamples, countRecalledAtK } from './best_regressed';
import { checkConfidenceMode, type ConfidenceMode } from './confidence';
import { summarizeDistribution, type DistributionSummary } from './distribution';
import type { ImageMatchPairs, ImagePredictions, ImageTargets } from './image_inputs';
import { matchedSamples } from './matched_samples';
import { pearson } from './pearson';

export interface AlignmentOptions {
  /** Confidence that ranks outputs for the BR recall and picks HC samples. Default 'max_class'. */
  confidence?: ConfidenceMode;
  /** Confidence of matched outputs (Pearson, density). Default 'gt_class' (IA-BCE's s). */
  matched_confidence?: ConfidenceMode;
  /** Multiples m of N for the recall curve (k = m*N); must include 1 and 2. Default [1, 2, 3, 4, 5]. */
  recall_multiples?: number[];
  /** Histogram bins over [0, 1] in the report. Default 20. */
  bins?: number;
}

export interface AlignmentReport {
  confidence: ConfidenceMode;
  matched_confidence: ConfidenceMode;
  num_images: number;
  num_images_with_gt: number;
  num_gt: number;
  recall: {
    /** Fraction of all GTs whose BR sample is among the N most confident outputs of its image. */
    top_n: number | null;
    top_2n: number | null;
    curve: { multiple: number; recall: number | null }[];
    /** Mean over images (with GT) of the image's recall. */
    per_image_mean: { top_n: number | null; top_2n: number | null };
  };
  br_iou: DistributionSummary;
  hc_iou: DistributionSummary;
  matched: {
    count: number;
    pearson: number | null;
    confidence: DistributionSummary;
    iou: DistributionSummary;
    max_confidence: number | null;
  };
}

/** The per-sample values behind the report, for the plots. */
export interface AlignmentSamples {
  brIou: number[];
  hcIou: number[];
  matchedConfidence: number[];
  matchedIou: number[];
}

export class AlignmentAccumulator {
  readonly confidence: ConfidenceMode;
  readonly matchedConfidence: ConfidenceMode;
  readonly multiples: number[];
  readonly bins: number;
  private numImages = 0;
  private imagesWithGt = 0;
  private numGt = 0;
  private readonly hits: number[];
  private readonly imageRecallSums: number[];
  readonly samples: AlignmentSamples = { brIou: [], hcIou: [], matchedConfidence: [], matchedIou: [] };

  constructor(opts: AlignmentOptions = {}) {
    this.confidence = checkConfidenceMode(opts.confidence ?? 'max_class', 'AlignmentAccumulator');
    this.matchedConfidence = checkConfidenceMode(opts.matched_confidence ?? 'gt_class', 'AlignmentAccumulator (matched_confidence)');
    this.multiples = opts.recall_multiples ?? [1, 2, 3, 4, 5];
    if (!this.multiples.includes(1) || !this.multiples.includes(2) || this.multiples.some((m) => !(m > 0))) {
      throw new Error(`AlignmentAccumulator: recall_multiples must be positive and include 1 and 2, got ${JSON.stringify(this.multiples)}`);
    }
    this.bins = opts.bins ?? 20;
    if (!Number.isInteger(this.bins) || this.bins < 1) throw new Error(`AlignmentAccumulator: bins must be a positive integer, got ${this.bins}`);
    this.hits = this.multiples.map(() => 0);
    this.imageRecallSums = this.multiples.map(() => 0);
  }

  /**
   * Add one image. `match` (the final layer's one-to-one matching) feeds the matched-sample metrics;
   * without it the image adds only to the BR / HC metrics.
   */
  addImage(pred: ImagePredictions, target: ImageTargets, match?: ImageMatchPairs, where = `image ${this.numImages}`): void {
    this.numImages += 1;
    const n = target.labels.length;
    if (n === 0) return;
    const iou = pairwiseIouCxcywh(pred.boxes, pred.numQueries, target.boxes, n);
    const br = bestRegressedSamples(pred, target, this.confidence, iou, where);
    this.imagesWithGt += 1;
    this.numGt += n;
    this.multiples.forEach((m, i) => {
      const hit = countRecalledAtK(br, Math.round(m * n));
      this.hits[i] += hit;
      this.imageRecallSums[i] += hit / n;
    });
    for (const v of br.brIou) this.samples.brIou.push(v);
    for (const v of br.hcIou) this.samples.hcIou.push(v);
    if (match) {
      const ms = matchedSamples(pred, target, match, this.matchedConfidence, iou, where);
      for (const v of ms.confidence) this.samples.matchedConfidence.push(v);
      for (const v of ms.iou) this.samples.matchedIou.push(v);
    }
  }

  report(): AlignmentReport {
    const at = (m: number) => this.multiples.indexOf(m);
    const recall = (i: number) => (this.numGt ? this.hits[i] / this.numGt : null);
    const perImage = (i: number) => (this.imagesWithGt ? this.imageRecallSums[i] / this.imagesWithGt : null);
    const conf = this.samples.matchedConfidence;
    return {
      confidence: this.confidence,
      matched_confidence: this.matchedConfidence,
      num_images: this.numImages,
      num_images_with_gt: this.imagesWithGt,
      num_gt: this.numGt,
      recall: {
        top_n: recall(at(1)),
        top_2n: recall(at(2)),
        curve: this.multiples.map((m, i) => ({ multiple: m, recall: recall(i) })),
        per_image_mean: { top_n: perImage(at(1)), top_2n: perImage(at(2)) },
      },
      br_iou: summarizeDistribution(this.samples.brIou, this.bins),
      hc_iou: summarizeDistribution(this.samples.hcIou, this.bins),
      matched: {
        count: conf.length,
        pearson: pearson(conf, this.samples.matchedIou),
        confidence: summarizeDistribution(conf, this.bins),
        iou: summarizeDistribution(this.samples.matchedIou, this.bins),
        max_confidence: conf.length ? conf.reduce((a, b) => Math.max(a, b), -Infinity) : null,
      },
    };
  }
}
