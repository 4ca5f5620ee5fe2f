/**
 * Lazy configs (detectron2's LazyCall, `detectron2/config/lazy.py`): `L(Target)({...kwargs})` builds
 * nothing; it returns a plain node `{ _target_: Target, ...kwargs }` that `instantiate` builds later.
 * Targets are classes / factory functions or registry ids (`'criterion/ia_bce'`).
 * Values may be references `'${..num_classes}'` (OmegaConf relative interpolation) and derived values
 * `derived(ctx => ...)`, both resolved after command-line overrides.
 */
import type { PartTarget } from './container';

export const TARGET_KEY = '_target_';

export type ConfigValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | PartTarget
  | Derived
  | ConfigValue[]
  | ConfigNode;

export interface ConfigNode {
  [key: string]: ConfigValue;
}

export interface LazyNode extends ConfigNode {
  _target_: PartTarget | string;
}

/** Context passed to a derived value's function: the resolved root and the node holding the value. */
export interface DerivedContext {
  root: ConfigNode;
  /** The node that holds the derived value (already resolved apart from this value). */
  node: ConfigNode;
  /** Look up a dotted path in the resolved root (`get('model.num_classes')`). */
  get: (path: string) => unknown;
}

export class Derived<T = unknown> {
  constructor(readonly fn: (ctx: DerivedContext) => T, readonly description: string) {}
}

/**
 * A value computed from others after overrides (detrex computes these in Python at load time, so they
 * do not follow overrides; here they do): e.g. the aux-loss weight dict or LR milestones.
 */
export function derived<T>(fn: (ctx: DerivedContext) => T, description = 'derived value'): Derived<T> {
  return new Derived(fn, description);
}

export function isDerived(v: unknown): v is Derived {
  return v instanceof Derived;
}

/** Kwargs of a lazy call: each field may also be a reference string, a derived value or a lazy node. */
export type LazyArgs<O> = { [K in keyof O]?: O[K] | string | Derived | LazyNode | ConfigValue };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type OptionsOf<T> = T extends new (opts: infer O) => any ? O : T extends (opts: infer O) => any ? O : Record<string, unknown>;

/** `L(Target)({...})`: a lazy node for Target with the given kwargs. */
export function L<T extends PartTarget | string>(target: T) {
  return (kwargs: LazyArgs<OptionsOf<T>> = {} as LazyArgs<OptionsOf<T>>): LazyNode => {
    if (TARGET_KEY in (kwargs as object)) throw new Error(`L(): kwargs must not contain "${TARGET_KEY}"`);
    return { [TARGET_KEY]: target, ...(kwargs as ConfigNode) } as LazyNode;
  };
}

/** Alias with detectron2's long name. */
export const LazyCall = L;

export function isLazyNode(v: unknown): v is LazyNode {
  return isPlainNode(v) && TARGET_KEY in v;
}

/** A config mapping: a plain object (not a class instance, array, tensor, Derived). */
export function isPlainNode(v: unknown): v is ConfigNode {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep copy of a config tree. Targets, functions, Derived values and class instances are shared
 * (they are immutable descriptions); plain nodes and arrays are copied.
 */
export function cloneConfig<T extends ConfigValue>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => cloneConfig(v)) as T;
  if (isPlainNode(value)) {
    const out: ConfigNode = {};
    for (const [k, v] of Object.entries(value)) out[k] = cloneConfig(v);
    return out as T;
  }
  return value;
}
