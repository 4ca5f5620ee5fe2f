/**
 * Detector outputs as the criteria read them (detrex's output dicts): the final layer, the auxiliary
 * decoder layers 0..L-2, the two-stage encoder proposals, the denoising part with its meta, and
 * H-DETR's one-to-many queries (detrex `HDeformableDETR.forward` keys).
 */
import type { DnMeta, PredictionTensors } from '@detr/matchers';

export interface DetectorOutputs extends PredictionTensors {
  aux_outputs?: PredictionTensors[];
  enc_outputs?: PredictionTensors;
  dn_outputs?: PredictionTensors & { aux_outputs?: PredictionTensors[] };
  dn_meta?: DnMeta;
  pred_logits_one2many?: PredictionTensors['pred_logits'];
  pred_boxes_one2many?: PredictionTensors['pred_boxes'];
  aux_outputs_one2many?: PredictionTensors[];
}
