/**
 * Official Anchor DETR checkpoint keys -> this port's. Everything outside the backbone has the official
 * name already (`transformer.encoder_layers.0.self_attn.in_proj_weight`, `transformer.class_embed.3.bias`,
 * `input_proj.0.1.weight`, ...). The official backbone is DETR's `Joiner(Backbone(torchvision resnet))`:
 * `backbone.0.body.<torchvision key>`; here it is @detr/backbones' ResNet with detectron2 names under
 * `backbone.` (`backbone.0.body.layer1.0.conv1.weight` -> `backbone.res2.0.conv1.weight`,
 * `backbone.0.body.bn1.running_mean` -> `backbone.stem.conv1.norm.running_mean`). `num_batches_tracked`
 * and `fc.*` are dropped. The values (and so their torch layouts) are unchanged: load the result with
 * `loadStateDict(map, {layout: 'torch'})`.
 */
import { torchvisionToDetectron2Key } from '@detr/backbones';

const OFFICIAL_BACKBONE = 'backbone.0.body.';

/** One key: the port's name, or null for a key the port has no slot for. */
export function officialAnchorDetrKey(key: string): string | null {
  if (key.startsWith(OFFICIAL_BACKBONE)) {
    const d2 = torchvisionToDetectron2Key(key.slice(OFFICIAL_BACKBONE.length));
    return d2 === null ? null : `backbone.${d2}`;
  }
  if (key.endsWith('.num_batches_tracked')) return null;
  return key;
}

/** Renames an official state dict (the `model` entry of its .pth) to this port's names, keeping the order. */
export function officialAnchorDetrKeys<T>(stateDict: Map<string, T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of stateDict) {
    const ours = officialAnchorDetrKey(key);
    if (ours === null) continue;
    if (out.has(ours)) throw new Error(`officialAnchorDetrKeys: two keys map to "${ours}" (the second is "${key}")`);
    out.set(ours, value);
  }
  return out;
}
