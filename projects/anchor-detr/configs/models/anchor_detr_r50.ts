/**
 * Anchor DETR R50-C5 (detrex `projects/anchor_detr/configs/models/anchor_detr_r50.py`, which takes the
 * official megvii-research/AnchorDETR `main.py` defaults): ResNet-50 res5 (stride 32) through a 1x1 conv
 * + GroupNorm(32) projection, 6 encoder + 6 decoder layers with row-column decoupled attention (RCDA,
 * 8 heads, FFN 1024, ReLU, no dropout), 300 learned anchor points x 3 patterns = 900 queries, shared
 * class / box heads on every decoder layer; focal-loss Hungarian matching 2/5/2, losses 2/5/2 with
 * `_0.._4` copies; 100 detections per image at inference.
 *
 * Names: the transformer takes the official option names (`d_model`, `nhead`, as in
 * AnchorDETR `main.py` / `models/transformer.py`), not detrex's `embed_dim` / `num_heads`; the values are
 * detrex's. detrex builds the backbone with torchvision's ResNet (`TorchvisionResNet(name="resnet50",
 * train_backbone=True)`), which trains layer2..layer4 only: stem and res2 frozen, i.e. freeze_at 2 on this
 * detectron2-layout ResNet (weights load by name from a torchvision .pth).
 */
import { ResNet } from '@detr/backbones';
import { derivedWeightDict, SetCriterion, SigmoidFocalLoss } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { L } from '@detr/registry';
import { AnchorDETR, AnchorDETRTransformer } from '../../src/index';

export const model = L(AnchorDETR)({
  backbone: L(ResNet)({
    depth: 50,
    out_features: ['res5'],
    freeze_at: 2,
    norm: 'FrozenBN',
    stride_in_1x1: false,
    res5_dilation: 1,
  }),
  /** Only the last level is used (single-level Anchor DETR). */
  in_features: ['res5'],
  in_channels: 2048,
  transformer: L(AnchorDETRTransformer)({
    d_model: 256,
    nhead: 8,
    num_encoder_layers: 6,
    num_decoder_layers: 6,
    dim_feedforward: 1024,
    dropout: 0.0,
    activation: 'relu',
    num_query_position: 300,
    num_query_pattern: 3,
    /** 'learned' anchor points or a fixed 'grid'. */
    spatial_prior: 'learned',
    attention_type: 'RCDA',
    num_classes: '${..num_classes}',
  }),
  num_classes: 80,
  criterion: L(SetCriterion)({
    num_classes: '${..num_classes}',
    matcher: L(HungarianMatcher)({ cost_class: 2.0, cost_bbox: 5.0, cost_giou: 2.0, cost_class_type: 'focal_loss_cost', alpha: 0.25, gamma: 2.0 }),
    class_loss: L(SigmoidFocalLoss)({ alpha: 0.25, gamma: 2.0 }),
    base_weight_dict: { loss_class: 2.0, loss_bbox: 5.0, loss_giou: 2.0 },
    weight_dict: derivedWeightDict({ num_aux: 'model.transformer.num_decoder_layers', minus_one: true }),
  }),
  aux_loss: true,
  select_box_nums_for_evaluation: 100,
});
