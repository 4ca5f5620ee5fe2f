/**
 * instantiate (detectron2 `detectron2/config/instantiate.py`): builds a lazy config depth-first:
 * lists element by element; for a node with `_target_`, every field is instantiated first (children
 * before parents, so a parent receives ready sub-modules), then the target is called with one options
 * object (`new Target(opts)` for classes, `Target(opts)` for functions). Other values are returned as is.
 */
import { partIdOf, resolvePart, type PartTarget } from './container';
import { isPlainNode, TARGET_KEY, type ConfigNode } from './lazy';
import { joinPath } from './paths';
import { hasUnresolved, resolveConfig } from './resolve';

export function isClass(fn: unknown): fn is new (opts: unknown) => unknown {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

export function targetName(target: unknown): string {
  if (typeof target === 'string') return target;
  if (typeof target === 'function') return partIdOf(target) ?? target.name ?? '<anonymous>';
  return String(target);
}

/** Build a (resolved or raw) config value. References must resolve inside `value` itself. */
export function instantiate<T = unknown>(value: unknown, path: readonly string[] = []): T {
  if (path.length === 0 && isPlainNode(value) && hasUnresolved(value)) value = resolveConfig(value);
  return build(value, path) as T;
}

function build(value: unknown, path: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => build(v, [...path, String(i)]));
  if (!isPlainNode(value)) return value;
  const node = value as ConfigNode;
  const kwargs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k !== TARGET_KEY) kwargs[k] = build(v, [...path, k]);
  }
  if (!(TARGET_KEY in node)) return kwargs;
  const rawTarget = node[TARGET_KEY];
  let target: PartTarget;
  try {
    target = typeof rawTarget === 'string' ? resolvePart(rawTarget) : (rawTarget as PartTarget);
  } catch (e) {
    throw new Error(`instantiate ${joinPath(path)}: ${(e as Error).message}`);
  }
  if (typeof target !== 'function') {
    throw new Error(`instantiate ${joinPath(path)}: _target_ is not a class, function or registry id (${String(rawTarget)})`);
  }
  try {
    return isClass(target) ? new target(kwargs) : (target as (o: unknown) => unknown)(kwargs);
  } catch (e) {
    const err = e as Error;
    if (err.message.startsWith('instantiate ')) throw err;
    const wrapped = new Error(`instantiate ${joinPath(path)} (${targetName(target)}): ${err.message}`);
    wrapped.stack = `${wrapped.message}\n${err.stack ?? ''}`;
    throw wrapped;
  }
}
