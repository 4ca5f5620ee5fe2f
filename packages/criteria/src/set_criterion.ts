/**
 * The set criterion (detrex `detrex/modeling/criterion/criterion.py::SetCriterion` for one-to-one
 * matching; Align-DETR `aligndetr/criterions/many_to_one_criterion.py::ManyToOneCriterion` when
 * `match_num` is set): match the final output and every auxiliary decoder output, then the class loss
 * and L1 / GIoU losses of each, keys `loss_class`, `loss_bbox`, `loss_giou` and `_0.._{L-2}` copies.
 *
 * - num_boxes = max(number of GT boxes in the batch, 1) (detrex; one process, so no all-reduce);
 *   it is NOT multiplied by k in many-to-one matching (upstream).
 * - Many-to-one (`match_num`, Align-DETR): output "layer_spec" l picks k = match_num[l] and the rank
 *   weights w = weight_table[l] = exp(-arange(k)/tau): l = 0 the encoder, l = i+1 aux layer i, l = L
 *   (number of decoder layers) the final layer. Without `match_num`: k = 1 and w = 1.
 * - Returns raw losses; the detector multiplies by `weight_dict` (`applyWeightDict`), as detrex does.
 */
import * as tf from '@tensorflow/tfjs';
import { register } from '@detr/registry';
import {
  checkOptionKeys,
  countTargets,
  numberOption,
  readPredictions,
  validateTargets,
  type DetectionTarget,
  type ImageMatch,
  type Matcher,
  type PredictionTensors,
} from '@detr/matchers';
import type { DetectorOutputs } from './detector_outputs';
import type { ClassificationLoss } from './losses/classification_loss';
import { SigmoidFocalLoss } from './losses/sigmoid_focal_loss';
import { computeOutputLosses, type OutputLossDetails, type OutputLosses } from './output_losses';
import { weightTable } from './prime_sample_weighting';
import { applyWeightDict, type LossDict, type WeightDict } from './weight_dict';

export interface SetCriterionOptions {
  num_classes: number;
  matcher: Matcher;
  /** Full weight dict (see expandWeightDict / derivedWeightDict); used by `weightLosses`. */
  weight_dict: WeightDict;
  /** Classification loss (default: detrex's sigmoid focal loss, alpha 0.25, gamma 2). */
  class_loss?: ClassificationLoss;
  /** Many-to-one: k per output [encoder, decoder 0 .. L-2, last]; null/absent = one-to-one. */
  match_num?: number[] | null;
  /** Prime-sample weighting temperature (Infinity switches the weighting off); with match_num. */
  tau?: number;
  /** The per-output weights `weight_dict` was expanded from (kept for printing / derived values). */
  base_weight_dict?: WeightDict;
}

export const SET_CRITERION_KEYS = ['num_classes', 'matcher', 'weight_dict', 'class_loss', 'match_num', 'tau', 'base_weight_dict'];

/** Losses plus the indices used for each output (keys: 'final', '0'..'L-2', 'enc', 'dn', 'dn_0', ...). */
export interface CriterionResult {
  losses: LossDict;
  indices: Record<string, ImageMatch[]>;
  /** Per-pair quality / rank / weight of each output (same keys), when requested. */
  details?: Record<string, OutputLossDetails>;
}

export interface ComputeOptions {
  /** Also return per-pair quality, rank and weight. */
  details?: boolean;
}

function suffixName(suffix: string): string {
  return suffix === '' ? 'final' : suffix.slice(1);
}

@register('criterion', 'set')
export class SetCriterion {
  readonly numClasses: number;
  readonly matcher: Matcher;
  readonly weight_dict: WeightDict;
  readonly classLoss: ClassificationLoss;
  readonly matchNum: number[] | null;
  readonly tau: number;
  /** weight_table rows (Align-DETR), or null for one-to-one. */
  readonly weightTable: Float32Array[] | null;
  protected readonly name: string;

  constructor(opts: SetCriterionOptions, allowedKeys: readonly string[] = SET_CRITERION_KEYS, name = 'SetCriterion') {
    this.name = name;
    checkOptionKeys(name, opts, allowedKeys);
    this.numClasses = numberOption(name, 'num_classes', opts.num_classes, NaN, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
    if (!opts.matcher || typeof opts.matcher.matchData !== 'function') throw new Error(`${name}: option matcher must be a matcher (matcher/hungarian, matcher/mixed)`);
    this.matcher = opts.matcher;
    if (!opts.weight_dict || typeof opts.weight_dict !== 'object') throw new Error(`${name}: option weight_dict must be an object of loss weights`);
    this.weight_dict = { ...opts.weight_dict };
    this.classLoss = opts.class_loss ?? new SigmoidFocalLoss({});
    if (typeof this.classLoss.forward !== 'function' || typeof this.classLoss.quality !== 'function') {
      throw new Error(`${name}: option class_loss must be a classification loss (loss/sigmoid_focal, loss/ia_bce, loss/vfl, loss/qfl)`);
    }
    this.tau = numberOption(name, 'tau', opts.tau, 1.5, (v) => v > 0, 'a number > 0 (Infinity: no prime-sample weighting)');
    const matchNum = opts.match_num ?? null;
    if (matchNum !== null) {
      if (!Array.isArray(matchNum) || matchNum.length === 0 || matchNum.some((k) => !Number.isInteger(k) || k < 1)) {
        throw new Error(`${name}: match_num must be a list of integers >= 1 ([encoder, decoder 0 .. L-2, last]), got ${JSON.stringify(matchNum)}`);
      }
      if (matchNum.some((k) => k > 1) && !this.matcher.manyToOne) {
        throw new Error(`${name}: match_num ${JSON.stringify(matchNum)} asks for many-to-one matching but the matcher is one-to-one; use matcher/mixed`);
      }
    }
    this.matchNum = matchNum ? [...matchNum] : null;
    this.weightTable = matchNum ? weightTable(matchNum, this.tau) : null;
  }

  forward(outputs: DetectorOutputs, targets: readonly DetectionTarget[]): LossDict {
    return this.computeLosses(outputs, targets).losses;
  }

  /** The losses multiplied by `weight_dict` (what detrex's detectors return from forward). */
  weightLosses(losses: LossDict): LossDict {
    return applyWeightDict(losses, this.weight_dict);
  }

  computeLosses(outputs: DetectorOutputs, targets: readonly DetectionTarget[], opts: ComputeOptions = {}): CriterionResult {
    const result: CriterionResult = { losses: {}, indices: {}, ...(opts.details ? { details: {} } : {}) };
    this.checkInputs(outputs, targets);
    const numBoxes = Math.max(countTargets(targets), 1);
    this.addDecoderLosses(result, outputs, outputs.aux_outputs ?? [], targets, numBoxes, { suffix: '', final: 'outputs', aux: 'aux_outputs' });
    return result;
  }

  protected checkInputs(outputs: DetectorOutputs, targets: readonly DetectionTarget[]): void {
    if (!outputs || !(outputs.pred_logits instanceof tf.Tensor)) throw new Error(`${this.name}: outputs.pred_logits must be a [B, Q, C] tensor`);
    const [batch, , classes] = outputs.pred_logits.shape;
    if (classes !== this.numClasses) {
      throw new Error(`${this.name}: pred_logits has ${classes} classes but num_classes is ${this.numClasses}`);
    }
    validateTargets(targets, batch, this.numClasses, this.name);
  }

  /**
   * Final output (key suffix `names.suffix`) and aux outputs (`_i` + names.suffix; H-DETR's one-to-many
   * branch uses the suffix `_one2many`); `names.final` / `names.aux` name them in errors.
   */
  protected addDecoderLosses(
    result: CriterionResult,
    final: PredictionTensors,
    aux: readonly PredictionTensors[],
    targets: readonly DetectionTarget[],
    numBoxes: number,
    names: { suffix: string; final: string; aux: string },
  ): void {
    const numLayers = aux.length + 1;
    // Upstream indexes match_num as [encoder, decoder 0 .. L-2, last]: one entry per decoder layer plus
    // the encoder's, so a list of another length would silently give the last layer a wrong k.
    if (this.matchNum && this.matchNum.length !== numLayers + 1) {
      throw new Error(
        `${this.name}: match_num has ${this.matchNum.length} entries but the model has ${numLayers} decoder outputs; it needs ${numLayers + 1} ([encoder, decoder 0 .. L-2, last]), got ${JSON.stringify(this.matchNum)}`,
      );
    }
    this.addMatchedLosses(result, final, names.final, targets, numBoxes, numLayers, names.suffix);
    aux.forEach((out, i) => this.addMatchedLosses(result, out, `${names.aux}[${i}]`, targets, numBoxes, i + 1, `_${i}${names.suffix}`));
  }

  /** Match one output (k and weights from `layerSpec` in many-to-one mode) and add its three losses. */
  protected addMatchedLosses(
    result: CriterionResult,
    output: PredictionTensors,
    layer: string,
    targets: readonly DetectionTarget[],
    numBoxes: number,
    layerSpec: number,
    suffix: string,
  ): void {
    let k = 1;
    let rankWeights: Float32Array | null = null;
    if (this.matchNum && this.weightTable) {
      if (layerSpec >= this.matchNum.length) {
        throw new Error(`${this.name}: ${layer} needs match_num[${layerSpec}] but match_num has ${this.matchNum.length} entries ([encoder, decoder 0 .. L-2, last])`);
      }
      k = this.matchNum[layerSpec];
      rankWeights = this.weightTable[layerSpec].subarray(0, k);
    }
    const pred = readPredictions(output, layer);
    const matches = this.matcher.matchData(pred, targets, k);
    this.addOutputLosses(result, { output, pred, targets, matches, numBoxes, rankWeights }, suffix);
  }

  protected addOutputLosses(
    result: CriterionResult,
    args: Omit<Parameters<typeof computeOutputLosses>[0], 'classLoss'>,
    suffix: string,
  ): void {
    const details = result.details ? ({} as OutputLossDetails) : undefined;
    const losses: OutputLosses = computeOutputLosses({ ...args, classLoss: this.classLoss }, details);
    for (const [key, value] of Object.entries(losses)) result.losses[key + suffix] = value;
    result.indices[suffixName(suffix)] = args.matches as ImageMatch[];
    if (details && result.details) result.details[suffixName(suffix)] = details;
  }
}
