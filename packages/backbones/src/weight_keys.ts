/**
 * State-dict key maps for ResNet checkpoints (fixtures/parity/README.md section 9; detectron2's
 * `tools/convert-torchvision-to-d2.py`):
 *
 *   torchvision                          detectron2
 *   conv1.weight                         stem.conv1.weight
 *   bn1.{weight,bias,running_*}          stem.conv1.norm.*
 *   layer{L}.{i}.conv{j}.weight          res{L+1}.{i}.conv{j}.weight
 *   layer{L}.{i}.bn{j}.*                 res{L+1}.{i}.conv{j}.norm.*
 *   layer{L}.{i}.downsample.0.weight     res{L+1}.{i}.shortcut.weight
 *   layer{L}.{i}.downsample.1.*          res{L+1}.{i}.shortcut.norm.*
 *   fc.*, *.num_batches_tracked          (dropped)
 *
 * and detectron2 -> detrex by the detector's child name: `backbone.` + key. The maps are generic over
 * the value type, so they work on RawTensor maps (readSafetensors / readPth / loadWeightManifest) and on
 * tf.Tensor maps alike; the key order of the input is kept.
 */

const BN_FIELDS = new Set(['weight', 'bias', 'running_mean', 'running_var']);

/** Where a checkpoint's ResNet keys come from. */
export type ResNetKeyFormat = 'torchvision' | 'detectron2' | 'detrex';

/**
 * The detectron2 name of one torchvision ResNet key; null for keys detectron2's ResNet has no slot for
 * (`fc.*`, `*.num_batches_tracked`). Throws for a key that is not part of a torchvision ResNet.
 */
export function torchvisionToDetectron2Key(key: string): string | null {
  if (key.endsWith('.num_batches_tracked') || key.startsWith('fc.')) return null;
  if (key === 'conv1.weight') return 'stem.conv1.weight';
  let m = /^bn1\.(\w+)$/.exec(key);
  if (m && BN_FIELDS.has(m[1])) return `stem.conv1.norm.${m[1]}`;
  m = /^layer([1-4])\.(\d+)\.(.+)$/.exec(key);
  if (m) {
    const stage = `res${Number(m[1]) + 1}.${m[2]}`;
    const rest = m[3];
    let r = /^conv([1-3])\.weight$/.exec(rest);
    if (r) return `${stage}.conv${r[1]}.weight`;
    r = /^bn([1-3])\.(\w+)$/.exec(rest);
    if (r && BN_FIELDS.has(r[2])) return `${stage}.conv${r[1]}.norm.${r[2]}`;
    if (rest === 'downsample.0.weight') return `${stage}.shortcut.weight`;
    r = /^downsample\.1\.(\w+)$/.exec(rest);
    if (r && BN_FIELDS.has(r[1])) return `${stage}.shortcut.norm.${r[1]}`;
  }
  throw new Error(`torchvisionToDetectron2Key: "${key}" is not a key of a torchvision ResNet state dict`);
}

/** Renames a torchvision ResNet state dict to detectron2 names, dropping `fc.*` and `num_batches_tracked`. */
export function torchvisionToDetectron2Keys<T>(stateDict: Map<string, T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of stateDict) {
    const d2 = torchvisionToDetectron2Key(key);
    if (d2 === null) continue;
    if (out.has(d2)) throw new Error(`torchvisionToDetectron2Keys: two keys map to "${d2}" (the second is "${key}")`);
    out.set(d2, value);
  }
  return out;
}

/**
 * Cleans a detectron2-named ResNet state dict: drops `*.num_batches_tracked` and the classifier
 * (`linear.*`, and the `stem.fc.*` that detectron2's convert-torchvision-to-d2.py leaves behind).
 */
export function cleanDetectron2Keys<T>(stateDict: Map<string, T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of stateDict) {
    if (key.endsWith('.num_batches_tracked') || key.startsWith('linear.') || key.startsWith('stem.fc.')) continue;
    out.set(key, value);
  }
  return out;
}

/** detectron2 names -> detrex names: `prefix + key` (the detector's backbone child, 'backbone.'). */
export function detectron2ToDetrexKeys<T>(stateDict: Map<string, T>, prefix = 'backbone.'): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of stateDict) out.set(prefix + key, value);
  return out;
}

/** detrex names -> detectron2 names: the entries under `prefix`, with the prefix removed; others are left out. */
export function detrexToDetectron2Keys<T>(stateDict: Map<string, T>, prefix = 'backbone.'): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, value] of stateDict) if (key.startsWith(prefix)) out.set(key.slice(prefix.length), value);
  return out;
}

/** Guesses the naming of a ResNet state dict from its stem key; throws listing a few keys if none fits. */
export function detectResNetKeyFormat(keys: Iterable<string>, prefix = 'backbone.'): ResNetKeyFormat {
  const list = [...keys];
  const set = new Set(list);
  if (set.has('conv1.weight') && list.some((k) => k.startsWith('layer1.'))) return 'torchvision';
  if (set.has('stem.conv1.weight')) return 'detectron2';
  if (set.has(`${prefix}stem.conv1.weight`)) return 'detrex';
  throw new Error(
    `detectResNetKeyFormat: no ResNet stem key found (looked for "conv1.weight", "stem.conv1.weight", "${prefix}stem.conv1.weight"); ` +
      `first keys: ${list.slice(0, 8).join(', ')}${list.length > 8 ? ', ...' : ''}`,
  );
}

/** Any of the three namings -> detectron2 names (the names of a ResNet module's own state dict). */
export function toDetectron2Keys<T>(stateDict: Map<string, T>, format: ResNetKeyFormat, prefix = 'backbone.'): Map<string, T> {
  switch (format) {
    case 'torchvision':
      return torchvisionToDetectron2Keys(stateDict);
    case 'detectron2':
      return cleanDetectron2Keys(stateDict);
    case 'detrex':
      return cleanDetectron2Keys(detrexToDetectron2Keys(stateDict, prefix));
  }
}
