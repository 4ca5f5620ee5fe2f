/**
 * DINO / Align-DETR with an IoU branch: the "w/ IoU branch" rows of the Align-DETR paper's Table 4
 * (arXiv 2304.07527v1, after IoU-Net, Jiang et al. ECCV 2018 [14]). The paper gives no code for it;
 * what it states is used, the rest is the simplest common form, chosen here and documented:
 *  - head: one Linear(embed_dim, 1) per decoder layer (`iou_embed.{l}`) on the same normed decoder
 *    state as the class head, predicting IoU as sigmoid(logit);
 *  - loss `loss_iou` (+ `_0.._{L-2}`): BCE between that prediction and the detached IoU of each matched
 *    box with its GT (the criterion's own matches), summed / num_boxes, times `iou_loss_weight`; on the
 *    decoder outputs that are matched (not on the encoder proposals or the denoising queries);
 *  - inference (Table 4 footnote: "weight factor of the IoU score 0.3"): score = p^(1-b) * IoU^b with
 *    b = `iou_score_weight` (the IoU-aware detector form); b = 0 is the "*" row (no score fusing).
 * It is also docs/new-variant.md's worked example of a variant written in a project, without touching
 * packages/: it subclasses the detector, reuses the criterion's matches, and registers a new part.
 */
import * as tf from '@tensorflow/tfjs';
import { Linear, ModuleList } from '@detr/core';
import { gatherMatchedPairs, matchedScoreAndIou, weightedBceWithLogitsSum } from '@detr/criteria';
import { countTargets, readPredictions, type DetectionTarget, type ImageMatch } from '@detr/matchers';
import { register } from '@detr/registry';
import { dinoInference, type DINOOutputs, type DINOTrace, type DetectorBatch, type Detections, type Predictions } from '@detr/dino';
import { ALIGN_DETR_OPTION_KEYS, AlignDETR, type AlignDETROptions } from './align_detr';

export interface IoUBranchDETROptions extends AlignDETROptions {
  /** Weight of `loss_iou` and its per-layer copies (default 1). */
  iou_loss_weight?: number;
  /** b in score = p^(1-b) * IoU^b at inference, in [0, 1]; 0 = no fusion (default 0.3, the paper's). */
  iou_score_weight?: number;
}

/** One output's predictions with the IoU logits [B, Q, 1]. */
export interface IoUPredictions extends Predictions {
  pred_ious: tf.Tensor;
}

export interface IoUBranchOutputs extends DINOOutputs {
  pred_ious: tf.Tensor;
  aux_outputs?: IoUPredictions[];
}

/** What the IoU loss needs from the criterion: its losses and the matches it used per output. */
export interface MatchingCriterion {
  computeLosses(outputs: DINOOutputs, targets: readonly DetectionTarget[]): { losses: Record<string, tf.Scalar>; indices: Record<string, ImageMatch[]> };
  weight_dict: Record<string, number>;
}

@register('detector', 'iou_branch_detr')
export class IoUBranchDETR extends AlignDETR {
  readonly iou_embed: ModuleList<Linear>;
  readonly iouLossWeight: number;
  readonly iouScoreWeight: number;

  constructor(opts: IoUBranchDETROptions) {
    const { iou_loss_weight, iou_score_weight, ...rest } = opts;
    const where = 'IoUBranchDETR';
    for (const key of Object.keys(rest)) {
      if (!(ALIGN_DETR_OPTION_KEYS as readonly string[]).includes(key)) {
        throw new Error(`${where}: unknown option "${key}" (valid options: ${[...ALIGN_DETR_OPTION_KEYS, 'iou_loss_weight', 'iou_score_weight'].join(', ')})`);
      }
    }
    super(rest, where);
    this.iouLossWeight = iou_loss_weight ?? 1;
    this.iouScoreWeight = iou_score_weight ?? 0.3;
    if (!(this.iouLossWeight >= 0 && Number.isFinite(this.iouLossWeight))) throw new Error(`${where}: iou_loss_weight must be a finite number >= 0, got ${iou_loss_weight}`);
    if (!(this.iouScoreWeight >= 0 && this.iouScoreWeight <= 1)) throw new Error(`${where}: iou_score_weight must be in [0, 1], got ${iou_score_weight}`);
    const numLayers = this.transformer.decoder.numLayers;
    this.iou_embed = this.registerModule('iou_embed', new ModuleList(Array.from({ length: numLayers }, () => new Linear(this.embedDim, 1))));
  }

  /** DINO's outputs plus `pred_ious` on the final and every aux matching output (and on dn_outputs). */
  override forward(batch: DetectorBatch, opts: { training?: boolean; trace?: DINOTrace } = {}): IoUBranchOutputs {
    const trace: DINOTrace = opts.trace ?? {};
    const out = super.forward(batch, { ...opts, trace }) as IoUBranchOutputs;
    const pad = out.dn_meta ? out.dn_meta.single_padding * out.dn_meta.dn_num : 0;
    tf.tidy(() => {
      // Per decoder layer [B, pad+Q, embed] -> [B, pad+Q, 1]; the first `pad` queries are denoising ones.
      const ious = trace.inter_states!.map((state, l) => this.iou_embed.at(l).forward(state));
      const take = (t: tf.Tensor, from: number, size: number) => tf.keep(t.slice([0, from, 0], [-1, size, -1]));
      const q = ious[0].shape[1]! - pad;
      const last = ious.length - 1;
      out.pred_ious = take(ious[last], pad, q);
      out.aux_outputs?.forEach((aux, l) => (aux.pred_ious = take(ious[l], pad, q)));
      if (out.dn_outputs) (out.dn_outputs as IoUPredictions).pred_ious = take(ious[last], 0, pad);
    });
    if (!opts.trace) tf.dispose(trace as unknown as tf.TensorContainer); // kept only to read the decoder states
    return out;
  }

  /** DINO's weighted losses plus `loss_iou` / `loss_iou_{i}` times iou_loss_weight. */
  override losses(batch: DetectorBatch): Record<string, tf.Scalar> {
    const criterion = this.criterion as unknown as MatchingCriterion | null;
    if (!criterion || typeof criterion.computeLosses !== 'function') {
      throw new Error('IoUBranchDETR.losses: needs a set criterion with computeLosses (criterion/dino, criterion/align_detr)');
    }
    if (!batch.targets) throw new Error('IoUBranchDETR.losses: batch.targets is required');
    const targets = batch.targets;
    return tf.tidy(() => {
      const outputs = this.forward(batch, { training: true });
      const { losses, indices } = criterion.computeLosses(outputs, targets);
      const weighted: Record<string, tf.Scalar> = {};
      for (const [k, v] of Object.entries(losses)) weighted[k] = k in criterion.weight_dict ? (v.mul(criterion.weight_dict[k]) as tf.Scalar) : v;
      const numBoxes = Math.max(countTargets(targets), 1);
      const decoderOutputs: [string, string, IoUPredictions][] = [['final', '', outputs as IoUPredictions]];
      outputs.aux_outputs?.forEach((aux, i) => decoderOutputs.push([String(i), `_${i}`, aux]));
      for (const [name, suffix, output] of decoderOutputs) {
        if (!indices[name]) throw new Error(`IoUBranchDETR.losses: the criterion returned no matches for output "${name}"`);
        weighted[`loss_iou${suffix}`] = iouLoss(output, indices[name], targets, numBoxes, `IoUBranchDETR ${name}`).mul(this.iouLossWeight) as tf.Scalar;
      }
      return weighted;
    });
  }

  /** Top-k over p^(1-b) * sigmoid(iou)^b (DINO's post-processing on the fused scores). */
  override inference(outputs: Predictions, imageSizes: readonly (readonly [number, number])[], origSizes?: readonly (readonly [number, number])[]): Detections[] {
    const ious = (outputs as IoUPredictions).pred_ious;
    if (this.iouScoreWeight === 0 || !ious) return super.inference(outputs, imageSizes, origSizes);
    const b = this.iouScoreWeight;
    const fusedLogits = tf.tidy(() => {
      // log p^(1-b) q^b = (1-b) log p + b log q; back to a logit so the shared top-k / sigmoid applies.
      const logScore = tf.add(tf.mul(tf.logSigmoid(outputs.pred_logits), 1 - b), tf.mul(tf.logSigmoid(ious), b)); // [B,Q,C] + [B,Q,1]
      const score = tf.clipByValue(tf.exp(logScore), 1e-12, 1 - 1e-7);
      return tf.sub(tf.log(score), tf.log1p(tf.neg(score)));
    });
    try {
      return dinoInference(fusedLogits, outputs.pred_boxes, this.selectBoxNums, imageSizes, origSizes);
    } finally {
      fusedLogits.dispose();
    }
  }
}

/** BCE(sigmoid(iou logit), IoU of the matched box) summed over the matched queries / numBoxes. */
export function iouLoss(output: IoUPredictions, matches: readonly ImageMatch[], targets: readonly DetectionTarget[], numBoxes: number, where: string): tf.Scalar {
  const pred = readPredictions(output, where);
  const pairs = gatherMatchedPairs(matches, targets, pred.numQueries, pred.numClasses, where);
  const { iou } = matchedScoreAndIou(pred, pairs);
  const rows = pred.batchSize * pred.numQueries;
  const pos = new Float32Array(rows);
  const neg = new Float32Array(rows);
  for (let i = 0; i < pairs.count; i++) {
    pos[pairs.rows[i]] = iou[i];
    neg[pairs.rows[i]] = 1 - iou[i];
  }
  return tf.tidy(() => {
    const logits = tf.reshape(output.pred_ious, [rows]); // [B, Q, 1] -> [B*Q]
    return tf.div(weightedBceWithLogitsSum(logits, tf.tensor1d(pos), tf.tensor1d(neg)), numBoxes) as tf.Scalar;
  });
}
