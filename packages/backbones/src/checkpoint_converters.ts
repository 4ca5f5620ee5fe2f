/**
 * Checkpoint key converters for `train.init_checkpoint` (registry kind `checkpoint_converter`, tried in
 * turn by @detr/engine's loadInitCheckpoint): an ImageNet ResNet state dict in torchvision names
 * (`conv1.weight`, `layer1.0.bn1.*`, `fc.*`: torchvision's `resnet50()` .pth) or in detectron2 names
 * (`stem.conv1.*`, `res2.0.conv1.norm.*`: detectron2's convert-torchvision-to-d2.py output, saved as
 * .pth / safetensors) becomes the detector's `backbone.*` keys (detectron2 names under the detector's
 * backbone child, as detrex's DINO / Align-DETR / DAB-DETR / H-DETR checkpoints name them). Key maps:
 * weight_keys.ts. Tensors pass through unchanged (PyTorch layout; the loader transposes).
 *
 * A converter claims a checkpoint only when every key is a ResNet key of its naming, so detector
 * checkpoints (detrex, official Align-DETR: `backbone.*`, `transformer.*`, ...) load untouched.
 */
import { register } from '@detr/registry';
import { cleanDetectron2Keys, detectron2ToDetrexKeys, torchvisionToDetectron2Key, torchvisionToDetectron2Keys } from './weight_keys';

/** What @detr/engine's loadInitCheckpoint calls (its `CheckpointConverter`). */
export interface ResNetCheckpointConverter {
  matches(keys: string[]): boolean;
  convert<T>(tensors: Map<string, T>): Map<string, T>;
  description: string;
}

/** The detector's child that holds the ResNet (detrex: `backbone`). */
export const DETECTOR_BACKBONE_PREFIX = 'backbone.';

function isTorchvisionResNetKey(key: string): boolean {
  try {
    torchvisionToDetectron2Key(key);
    return true;
  } catch {
    return false;
  }
}

const D2_RESNET_KEY = /^(stem\.(conv1\.(weight|norm\.(weight|bias|running_mean|running_var|num_batches_tracked))|fc\..+)|res[2-5]\.\d+\..+|linear\..+)$/;

/** torchvision ResNet (`resnet50().state_dict()`) -> `backbone.<detectron2 name>`; fc.* and num_batches_tracked dropped. */
export function torchvisionResNetConverter(): ResNetCheckpointConverter {
  return {
    description: 'torchvision ResNet keys -> backbone.* in detectron2 names (fc.* and *.num_batches_tracked dropped)',
    matches: (keys) => keys.includes('conv1.weight') && keys.some((k) => k.startsWith('layer1.')) && keys.every(isTorchvisionResNetKey),
    convert: (tensors) => detectron2ToDetrexKeys(torchvisionToDetectron2Keys(tensors), DETECTOR_BACKBONE_PREFIX),
  };
}

/** detectron2 ResNet names (`stem.conv1.*`, `res2.*`) -> `backbone.*`; the classifier and num_batches_tracked dropped. */
export function detectron2ResNetConverter(): ResNetCheckpointConverter {
  return {
    description: 'detectron2 ResNet keys -> backbone.* (linear.*, stem.fc.* and *.num_batches_tracked dropped)',
    matches: (keys) => keys.includes('stem.conv1.weight') && keys.every((k) => D2_RESNET_KEY.test(k)),
    convert: (tensors) => detectron2ToDetrexKeys(cleanDetectron2Keys(tensors), DETECTOR_BACKBONE_PREFIX),
  };
}

register('checkpoint_converter', 'torchvision_resnet')(torchvisionResNetConverter);
register('checkpoint_converter', 'detectron2_resnet')(detectron2ResNetConverter);

/** DETR's `Joiner(Backbone(torchvision resnet))` naming, used by the official DETR-family repositories. */
const DETR_JOINER_BACKBONE = 'backbone.0.body.';

/**
 * Official DETR-family checkpoints (facebookresearch/detr, Deformable-DETR, megvii AnchorDETR,
 * IDEA DAB-DETR, HDETR): the backbone is under `backbone.0.body.<torchvision key>`; it becomes
 * `backbone.<detectron2 name>`. Every other key is kept as it is (num_batches_tracked dropped).
 */
export function detrJoinerBackboneConverter(): ResNetCheckpointConverter {
  return {
    description: 'DETR Joiner backbone keys backbone.0.body.<torchvision> -> backbone.<detectron2 name> (other keys unchanged)',
    matches: (keys) => keys.some((k) => k.startsWith(DETR_JOINER_BACKBONE)),
    convert: <T>(tensors: Map<string, T>) => {
      const out = new Map<string, T>();
      for (const [key, value] of tensors) {
        if (key.endsWith('.num_batches_tracked')) continue;
        if (!key.startsWith(DETR_JOINER_BACKBONE)) {
          out.set(key, value);
          continue;
        }
        const d2 = torchvisionToDetectron2Key(key.slice(DETR_JOINER_BACKBONE.length));
        if (d2 !== null) out.set(`${DETECTOR_BACKBONE_PREFIX}${d2}`, value);
      }
      return out;
    },
  };
}

register('checkpoint_converter', 'detr_joiner_backbone')(detrJoinerBackboneConverter);
