/**
 * Resolution of references and derived values in a config tree, after overrides.
 * References follow OmegaConf's relative interpolation (`detectron2/config/lazy.py` relies on it):
 * inside a node at path P, `${.x}` is P.x, `${..x}` is parent(P).x, each further dot goes one level up;
 * `${a.b}` with no leading dot is absolute. A string that is exactly one reference takes the referenced
 * value (any type); references inside longer strings are interpolated as text.
 */
import { Derived, isPlainNode, type ConfigNode, type ConfigValue, type DerivedContext } from './lazy';
import { describeKeys, joinPath, splitPath } from './paths';

const WHOLE_REF = /^\$\{(\.*)([A-Za-z0-9_.]*)\}$/;
const ANY_REF = /\$\{(\.*)([A-Za-z0-9_.]*)\}/g;

export function isReference(v: unknown): v is string {
  return typeof v === 'string' && WHOLE_REF.test(v);
}

export function containsReference(v: unknown): boolean {
  return typeof v === 'string' && /\$\{\.*[A-Za-z0-9_.]*\}/.test(v);
}

/** Absolute path of a reference written in the node at `nodePath`. */
export function referencePath(dots: string, rest: string, nodePath: readonly string[], where: string): string[] {
  const restParts = splitPath(rest);
  if (dots.length === 0) return restParts;
  const up = dots.length - 1;
  if (up > nodePath.length) {
    throw new Error(`config reference at ${where} goes ${up} levels up from ${joinPath(nodePath)}, above the root`);
  }
  return [...nodePath.slice(0, nodePath.length - up), ...restParts];
}

/** True if a tree still holds references or derived values. */
export function hasUnresolved(v: unknown): boolean {
  if (v instanceof Derived || containsReference(v)) return true;
  if (Array.isArray(v)) return v.some(hasUnresolved);
  if (isPlainNode(v)) return Object.values(v).some(hasUnresolved);
  return false;
}

class Resolver {
  private readonly memo = new Map<string, unknown>();
  private readonly active: string[] = [];

  constructor(private readonly raw: ConfigNode) {}

  /** The raw value at an absolute path; a clear error names the missing key. */
  rawAt(path: readonly string[], where: string): ConfigValue {
    let cur: ConfigValue = this.raw;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (Array.isArray(cur)) {
        const idx = Number(seg);
        if (!Number.isInteger(idx) || idx < 0 || idx >= cur.length) {
          throw new Error(`${where}: ${joinPath(path.slice(0, i))} is a list of ${cur.length}; no index "${seg}"`);
        }
        cur = cur[idx];
      } else if (isPlainNode(cur)) {
        if (!(seg in cur)) {
          throw new Error(`${where}: ${joinPath(path.slice(0, i))} has no key "${seg}"; ${describeKeys(seg, Object.keys(cur))}`);
        }
        cur = cur[seg];
      } else {
        throw new Error(`${where}: ${joinPath(path.slice(0, i))} is not a config node, cannot look up "${seg}"`);
      }
    }
    return cur;
  }

  resolve(path: readonly string[], where = `config path ${joinPath(path)}`): unknown {
    const key = path.join('.');
    if (this.memo.has(key)) return this.memo.get(key);
    if (this.active.includes(key)) {
      throw new Error(`config reference cycle: ${[...this.active.slice(this.active.indexOf(key)), key].map((k) => k || '<root>').join(' -> ')}`);
    }
    this.active.push(key);
    try {
      const value = this.resolveValue(this.rawAt(path, where), path);
      this.memo.set(key, value);
      return value;
    } finally {
      this.active.pop();
    }
  }

  private resolveValue(raw: ConfigValue, path: readonly string[]): unknown {
    const nodePath = path.slice(0, -1);
    const here = `config value ${joinPath(path)}`;
    if (typeof raw === 'string') {
      const whole = WHOLE_REF.exec(raw);
      if (whole) return this.resolve(referencePath(whole[1], whole[2], nodePath, here), `reference ${raw} at ${joinPath(path)}`);
      if (!containsReference(raw)) return raw;
      return raw.replace(ANY_REF, (_m, dots: string, rest: string) =>
        String(this.resolve(referencePath(dots, rest, nodePath, here), `reference \${${dots}${rest}} at ${joinPath(path)}`)),
      );
    }
    if (raw instanceof Derived) {
      const ctx: DerivedContext = {
        root: this.proxy([]),
        node: this.proxy(nodePath),
        get: (p: string) => this.resolve(splitPath(p), `${raw.description} at ${joinPath(path)}`),
      };
      try {
        return raw.fn(ctx);
      } catch (e) {
        throw new Error(`computing ${raw.description} at ${joinPath(path)}: ${(e as Error).message}`);
      }
    }
    if (Array.isArray(raw)) return raw.map((_, i) => this.resolve([...path, String(i)]));
    if (isPlainNode(raw)) {
      const out: ConfigNode = {};
      for (const k of Object.keys(raw)) out[k] = this.resolve([...path, k]) as ConfigValue;
      return out;
    }
    return raw;
  }

  /** A read-only view of the node at `path` that resolves fields on access (used by derived values). */
  private proxy(path: readonly string[]): ConfigNode {
    const rawNode = this.rawAt(path, `derived value context ${joinPath(path)}`);
    if (!isPlainNode(rawNode)) return rawNode as unknown as ConfigNode;
    // Nested nodes are returned as views too, so reading root.model.numLayers does not resolve the
    // whole model node (which may contain the derived value being computed).
    const field = (prop: string) => (isPlainNode(rawNode[prop]) ? this.proxy([...path, prop]) : this.resolve([...path, prop]));
    return new Proxy({} as ConfigNode, {
      get: (_t, prop) => (typeof prop === 'string' && prop in rawNode ? field(prop) : undefined),
      has: (_t, prop) => typeof prop === 'string' && prop in rawNode,
      ownKeys: () => Object.keys(rawNode),
      getOwnPropertyDescriptor: (_t, prop) =>
        typeof prop === 'string' && prop in rawNode
          ? { enumerable: true, configurable: true, value: field(prop) }
          : undefined,
    });
  }
}

/**
 * A copy of the tree with every reference and derived value replaced by its value. Targets and other
 * objects are kept as they are.
 */
export function resolveConfig<T extends ConfigNode>(root: T): T {
  return new Resolver(root).resolve([]) as T;
}

/** Resolve one value inside a root (e.g. `resolveAt(cfg, 'model.num_classes')`). */
export function resolveAt(root: ConfigNode, path: string): unknown {
  return new Resolver(root).resolve(splitPath(path));
}
