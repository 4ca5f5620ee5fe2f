export { WeightExpression, type WeightEnv } from './weight_expression';
export {
  type ClassificationLoss,
  type ClassificationLossInput,
  type Positives,
  scatterDense,
  weightedTarget,
} from './losses/classification_loss';
export { weightedBceWithLogitsSum, negLogSigmoid } from './losses/weighted_bce';
export {
  SigmoidFocalLoss,
  type SigmoidFocalLossOptions,
  sigmoidFocalLoss,
  sigmoidFocalLossElementwise,
} from './losses/sigmoid_focal_loss';
export { IABCELoss, type IABCELossOptions } from './losses/ia_bce_loss';
export { VarifocalLoss, type VarifocalLossOptions } from './losses/varifocal_loss';
export { QualityFocalLoss, type QualityFocalLossOptions } from './losses/quality_focal_loss';
export { boxLosses, type BoxLosses } from './losses/box_losses';
export { primeSampleWeights, weightTable, localRank } from './prime_sample_weighting';
export { type MatchedPairs, gatherMatchedPairs, matchedScoreAndIou } from './matched_pairs';
export { type OutputLosses, type OutputLossArgs, type OutputLossDetails, computeOutputLosses } from './output_losses';
export {
  type WeightDict,
  type LossDict,
  type WeightDictExpansion,
  type DerivedWeightDictOptions,
  expandWeightDict,
  derivedWeightDict,
  applyWeightDict,
  sumLosses,
  disposeLosses,
} from './weight_dict';
export type { DetectorOutputs } from './detector_outputs';
export {
  SetCriterion,
  type SetCriterionOptions,
  type CriterionResult,
  type ComputeOptions,
  SET_CRITERION_KEYS,
} from './set_criterion';
export { TwoStageCriterion, type TwoStageCriterionOptions, binaryTargets, TWO_STAGE_KEYS } from './two_stage_criterion';
export { DINOCriterion, type DINOCriterionOptions } from './dino_criterion';
export {
  ManyToOneCriterion,
  type ManyToOneCriterionOptions,
  AlignDETRCriterion,
  type AlignDETRCriterionOptions,
  ALIGN_DETR_MATCH_NUM,
} from './align_detr_criterion';
export { HybridCriterion, type HybridCriterionOptions } from './hybrid_criterion';
