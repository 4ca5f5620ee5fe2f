/**
 * DINO's criterion (detrex `projects/dino/modeling/dn_criterion.py::DINOCriterion`; Align-DETR
 * `aligndetr/criterions/aligndetr_dn_criterion.py::AlignDETRCriterion`): the two-stage criterion plus
 * the denoising outputs. DN pairs are fixed (`denoisingMatches`: query g*single_padding + j for GT j in
 * group g), negative / padding DN queries are background, there is no rank weighting (w = 1), and the
 * normaliser is num_boxes * dn_num. Keys `_dn` (final DN layer) and `_dn_i` for the aux layers
 * i < number of matching aux outputs. Without DN outputs (no GT in the batch, or eval) the DN keys are
 * zeros, as upstream.
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import { countTargets, denoisingMatches, readPredictions, type DetectionTarget, type PredictionTensors } from '@detr/matchers';
import type { DetectorOutputs } from './detector_outputs';
import type { ComputeOptions, CriterionResult } from './set_criterion';
import { TWO_STAGE_KEYS, TwoStageCriterion, type TwoStageCriterionOptions } from './two_stage_criterion';

export type DINOCriterionOptions = TwoStageCriterionOptions;

const LOSS_NAMES = ['loss_class', 'loss_bbox', 'loss_giou'];

@register('criterion', 'dino')
export class DINOCriterion extends TwoStageCriterion {
  constructor(opts: DINOCriterionOptions, allowedKeys: readonly string[] = TWO_STAGE_KEYS, name = 'DINOCriterion') {
    super(opts, allowedKeys, name);
  }

  override computeLosses(outputs: DetectorOutputs, targets: readonly DetectionTarget[], opts: ComputeOptions = {}): CriterionResult {
    const result = super.computeLosses(outputs, targets, opts);
    const numAux = outputs.aux_outputs?.length ?? 0;
    const { dn_outputs: dn, dn_meta: meta } = outputs;
    if (!dn || !meta) {
      if (dn || meta) throw new Error(`${this.name}: outputs has ${dn ? 'dn_outputs but no dn_meta' : 'dn_meta but no dn_outputs'}`);
      for (const suffix of ['_dn', ...Array.from({ length: numAux }, (_, i) => `_dn_${i}`)]) {
        for (const key of LOSS_NAMES) result.losses[key + suffix] = tf.scalar(0);
      }
      return result;
    }
    const dnAux = dn.aux_outputs ?? [];
    if (dnAux.length < numAux) {
      throw new Error(`${this.name}: dn_outputs has ${dnAux.length} aux outputs but the matching part has ${numAux}`);
    }
    const matches = denoisingMatches(targets, meta);
    const numBoxes = Math.max(countTargets(targets), 1) * meta.dn_num;
    const add = (output: PredictionTensors, layer: string, suffix: string) => {
      const pred = readPredictions(output, layer);
      if (pred.numQueries < meta.single_padding * meta.dn_num) {
        throw new Error(`${this.name}: ${layer} has ${pred.numQueries} queries, fewer than dn_num * single_padding = ${meta.dn_num * meta.single_padding}`);
      }
      this.addOutputLosses(result, { output, pred, targets, matches, numBoxes, rankWeights: null }, suffix);
    };
    add(dn, 'dn_outputs', '_dn');
    for (let i = 0; i < numAux; i++) add(dnAux[i], `dn_outputs.aux_outputs[${i}]`, `_dn_${i}`);
    return result;
  }
}
