/**
 * Command-line overrides `a.b.c=value` (detectron2 `LazyConfig.apply_overrides` + `safe_update`):
 * every path segment must exist (a wrong path names the nearest valid keys), and the value must fit the
 * type of the value it replaces. `+a.b.new=value` adds a key that does not exist yet.
 * Values parse as JSON where possible (numbers, booleans, null, arrays, objects, quoted strings), else
 * as bare strings. A `_target_` override takes a registry id (`model.criterion._target_=criterion/focal`,
 * or a bare name within the kind of the target it replaces).
 */
import { partKindOf, resolvePart } from './container';
import { cloneConfig, Derived, isLazyNode, isPlainNode, TARGET_KEY, type ConfigNode, type ConfigValue } from './lazy';
import { describeKeys, joinPath, splitPath } from './paths';
import { isReference } from './resolve';

export function parseOverrideValue(text: string): ConfigValue {
  const t = text.trim();
  if (t === '') return '';
  if (t === 'None' || t === 'null') return null;
  if (t === 'True' || t === 'true') return true;
  if (t === 'False' || t === 'false') return false;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) || /^[-+]?(Infinity|inf)$/.test(t)) {
    if (/inf/.test(t) && !/Infinity/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    return Number(t);
  }
  if (/^[[{"]/.test(t)) {
    try {
      return JSON.parse(t) as ConfigValue;
    } catch {
      // Python-style lists with single quotes: ['a', 'b']
      try {
        return JSON.parse(t.replace(/'/g, '"')) as ConfigValue;
      } catch {
        throw new Error(`cannot parse value ${text} (expected JSON, e.g. [1, 2] or "text")`);
      }
    }
  }
  if (/^'.*'$/.test(t)) return t.slice(1, -1);
  return t;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Derived) return 'derived value';
  if (isLazyNode(v)) return 'lazy config node';
  if (isPlainNode(v)) return 'config node';
  return typeof v;
}

/** Check (and coerce) a new value against the one it replaces; returns the value to store. */
function checkType(path: string, old: unknown, value: ConfigValue): ConfigValue {
  if (old === undefined || old === null || old instanceof Derived || isReference(old)) return value;
  if (typeof old === 'function') throw new Error(`override ${path}: the value is a function and cannot be overridden from the command line`);
  if (typeof old === 'number') {
    if (typeof value !== 'number') throw new Error(`override ${path}: expected a number, got ${typeName(value)} ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof old === 'boolean') {
    if (typeof value !== 'boolean') throw new Error(`override ${path}: expected true or false, got ${typeName(value)} ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof old === 'string') {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new Error(`override ${path}: expected a string, got ${typeName(value)}`);
  }
  if (Array.isArray(old)) {
    if (!Array.isArray(value)) throw new Error(`override ${path}: expected a list like [1, 2], got ${typeName(value)} ${JSON.stringify(value)}`);
    const sample = old.find((x) => x !== null && x !== undefined);
    if (sample !== undefined && (typeof sample === 'number' || typeof sample === 'string' || typeof sample === 'boolean')) {
      value.forEach((x, i) => {
        if (typeof x !== typeof sample) throw new Error(`override ${path}: element ${i} should be a ${typeof sample}, got ${typeName(x)}`);
      });
    }
    return value;
  }
  if (isPlainNode(old)) {
    if (isPlainNode(value)) return value;
    throw new Error(
      `override ${path}: this is a ${typeName(old)} with keys ${Object.keys(old).join(', ')}; override one of its fields (e.g. ${path}.${Object.keys(old)[0]}=...)`,
    );
  }
  return value;
}

/** Apply one override in place. */
export function applyOverride(cfg: ConfigNode, override: string): void {
  const eq = override.indexOf('=');
  if (eq <= 0) throw new Error(`override "${override}": expected key=value`);
  let key = override.slice(0, eq).trim();
  const add = key.startsWith('+');
  if (add) key = key.slice(1);
  const where = `override "${override}"`;
  let parts: string[];
  try {
    parts = splitPath(key);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  let value: ConfigValue;
  try {
    value = parseOverrideValue(override.slice(eq + 1));
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  let node: ConfigValue = cfg;
  for (let i = 0; i < parts.length - 1; i++) {
    const seg = parts[i];
    const next: ConfigValue | undefined = lookup(node, seg, parts.slice(0, i), where);
    if (next instanceof Derived) {
      throw new Error(`${where}: ${joinPath(parts.slice(0, i + 1))} is a derived value (${next.description}); override the values it is computed from, or replace it whole`);
    }
    if (!Array.isArray(next) && !isPlainNode(next)) {
      throw new Error(`${where}: ${joinPath(parts.slice(0, i + 1))} is a ${typeName(next)}, not a config node; it has no field "${parts[i + 1]}"`);
    }
    node = next;
  }
  const last = parts[parts.length - 1];
  const parentPath = parts.slice(0, -1);
  if (Array.isArray(node)) {
    const idx = Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx >= node.length) {
      throw new Error(`${where}: ${joinPath(parentPath)} is a list of ${node.length}; no index "${last}"`);
    }
    node[idx] = checkType(key, node[idx], value);
    return;
  }
  const obj = node as ConfigNode;
  if (!(last in obj)) {
    if (!add) {
      throw new Error(`${where}: ${joinPath(parentPath)} has no key "${last}"; ${describeKeys(last, Object.keys(obj))} (use +${key}=... to add a new key)`);
    }
    obj[last] = value;
    return;
  }
  if (last === TARGET_KEY) {
    if (typeof value !== 'string') throw new Error(`${where}: _target_ takes a registry id like criterion/ia_bce`);
    const kind = partKindOf(obj[TARGET_KEY]) ?? (typeof obj[TARGET_KEY] === 'string' && (obj[TARGET_KEY] as string).includes('/') ? (obj[TARGET_KEY] as string).split('/')[0] : undefined);
    try {
      obj[TARGET_KEY] = resolvePart(value, kind);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    return;
  }
  obj[last] = checkType(key, obj[last], value);
}

function lookup(node: ConfigValue, seg: string, at: string[], where: string): ConfigValue {
  if (Array.isArray(node)) {
    const idx = Number(seg);
    if (!Number.isInteger(idx) || idx < 0 || idx >= node.length) {
      throw new Error(`${where}: ${joinPath(at)} is a list of ${node.length}; no index "${seg}"`);
    }
    return node[idx];
  }
  const obj = node as ConfigNode;
  if (!(seg in obj)) throw new Error(`${where}: ${joinPath(at)} has no key "${seg}"; ${describeKeys(seg, Object.keys(obj))}`);
  return obj[seg];
}

/** A copy of `cfg` with every override applied in order. */
export function applyOverrides<T extends ConfigNode>(cfg: T, overrides: readonly string[]): T {
  const out = cloneConfig(cfg);
  for (const o of overrides) applyOverride(out, o);
  return out;
}
