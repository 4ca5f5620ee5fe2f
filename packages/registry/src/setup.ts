/**
 * Asynchronous preparation of config parts before `instantiate` (which is synchronous, like
 * detectron2's): e.g. the embedded dataset writes its images to a cache folder on first use. A target
 * registers a setup function; `runAsyncSetup(cfg)` awaits it for every lazy node with that target.
 */
import type { PartTarget } from './container';
import { isLazyNode, isPlainNode, TARGET_KEY, type ConfigNode } from './lazy';
import { resolvePart } from './container';
import { joinPath } from './paths';

export type AsyncSetup = (node: ConfigNode, path: string) => Promise<void>;

const setups = new Map<PartTarget, AsyncSetup>();

export function registerAsyncSetup(target: PartTarget, setup: AsyncSetup): void {
  setups.set(target, setup);
}

/** Await the setup of every lazy node of a (resolved) config whose target registered one. */
export async function runAsyncSetup(cfg: unknown, path: string[] = []): Promise<void> {
  if (Array.isArray(cfg)) {
    for (let i = 0; i < cfg.length; i++) await runAsyncSetup(cfg[i], [...path, String(i)]);
    return;
  }
  if (!isPlainNode(cfg)) return;
  for (const [k, v] of Object.entries(cfg)) if (k !== TARGET_KEY) await runAsyncSetup(v, [...path, k]);
  if (isLazyNode(cfg)) {
    const raw = cfg[TARGET_KEY];
    const target = typeof raw === 'string' ? resolvePart(raw) : raw;
    const setup = setups.get(target);
    if (setup) await setup(cfg, joinPath(path));
  }
}
