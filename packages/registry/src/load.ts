/**
 * Loading a config file: a TypeScript module exporting plain config nodes (detrex's convention:
 * `model`, `dataloader`, `optimizer`, `lr_multiplier`, `train`). Like `LazyConfig.load`, every exported
 * config node whose name does not start with `_` becomes a top-level key. Configs extend others by
 * importing them and cloning (`cloneConfig`) or with `extendConfig`.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cloneConfig, isPlainNode, type ConfigNode } from './lazy';

export async function loadConfigFile(file: string): Promise<ConfigNode> {
  const abs = resolvePath(file);
  if (!existsSync(abs)) throw new Error(`config file not found: ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot load config file ${file}: ${(e as Error).message}`);
  }
  const cfg: ConfigNode = {};
  for (const [name, value] of Object.entries(mod)) {
    if (name.startsWith('_') || name === 'default') continue;
    if (isPlainNode(value)) cfg[name] = cloneConfig(value);
  }
  if (Object.keys(cfg).length === 0) throw new Error(`config file ${file} exports no config nodes (expected e.g. model, train)`);
  return cfg;
}

type DeepPatch<T> = { [K in keyof T]?: T[K] extends object ? DeepPatch<T[K]> | T[K] : T[K] };

/**
 * A copy of `base` with `patch` merged in: plain nodes merge key by key, anything else (lists, lazy
 * targets, scalars) replaces. Keys that are new in `patch` are added.
 */
export function extendConfig<T extends ConfigNode>(base: T, patch: DeepPatch<T> | ConfigNode): T {
  const out = cloneConfig(base) as ConfigNode;
  const merge = (dst: ConfigNode, src: ConfigNode) => {
    for (const [k, v] of Object.entries(src)) {
      if (isPlainNode(v) && isPlainNode(dst[k]) && !('_target_' in v && v._target_ !== (dst[k] as ConfigNode)._target_)) {
        merge(dst[k] as ConfigNode, v);
      } else {
        dst[k] = cloneConfig(v);
      }
    }
  };
  merge(out, patch as ConfigNode);
  return out as T;
}
