/**
 * Official Anchor DETR checkpoint keys -> this port's. Everything outside the backbone has the official
 * name already (`transformer.encoder_layers.0.self_attn.in_proj_weight`, `transformer.class_embed.3.bias`,
 * `input_proj.0.1.weight`, ...). The official backbone is DETR's `Joiner(Backbone(torchvision resnet))`:
 * `backbone.0.body.<torchvision key>`, renamed by @detr/backbones' `detr_joiner_backbone` checkpoint
 * converter (which `train.init_checkpoint` applies by itself) to detectron2 names under `backbone.`
 * (`backbone.0.body.layer1.0.conv1.weight` -> `backbone.res2.0.conv1.weight`). `num_batches_tracked` and
 * `fc.*` are dropped. Values (and their torch layouts) are unchanged: load with `{layout: 'torch'}`.
 */
import { detrJoinerBackboneConverter } from '@detr/backbones';

/** Renames an official state dict (the `model` entry of its .pth) to this port's names, keeping the order. */
export function officialAnchorDetrKeys<T>(stateDict: Map<string, T>): Map<string, T> {
  return detrJoinerBackboneConverter().convert(stateDict);
}
