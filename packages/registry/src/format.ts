/**
 * Printing and dumping configs: a YAML text (`--print-config`, `config.yaml` in every run's output
 * folder) and a JSON-safe copy. Targets print as their registry id, or `ClassName` if unregistered.
 */
import { targetName } from './instantiate';
import { Derived, isPlainNode, TARGET_KEY } from './lazy';

/** A JSON-safe copy: targets and functions become names, Derived becomes a marker. */
export function configToPlain(value: unknown): unknown {
  if (value instanceof Derived) return `<derived: ${value.description}>`;
  if (typeof value === 'function') return targetName(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (Array.isArray(value)) return value.map(configToPlain);
  if (isPlainNode(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = k === TARGET_KEY ? targetName(v) : configToPlain(v);
    }
    return out;
  }
  if (value !== null && typeof value === 'object') return `<${(value as object).constructor?.name ?? 'object'}>`;
  return value;
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(v) && !/^(true|false|null|yes|no|on|off)$/i.test(v) ? v : JSON.stringify(v);
  return String(v);
}

function isInline(v: unknown): boolean {
  return Array.isArray(v) && v.every((x) => x === null || ['number', 'string', 'boolean'].includes(typeof x));
}

/** YAML text of a config tree (block style, flow style for lists of scalars). */
export function formatConfig(cfg: unknown): string {
  const lines: string[] = [];
  const emit = (value: unknown, indent: string): void => {
    if (isPlainNode(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (isPlainNode(v) && Object.keys(v).length) {
          lines.push(`${indent}${k}:`);
          emit(v, indent + '  ');
        } else if (Array.isArray(v) && v.length && !isInline(v)) {
          lines.push(`${indent}${k}:`);
          emit(v, indent + '  ');
        } else if (isInline(v)) {
          lines.push(`${indent}${k}: [${(v as unknown[]).map(scalar).join(', ')}]`);
        } else {
          lines.push(`${indent}${k}: ${isPlainNode(v) ? '{}' : scalar(v)}`);
        }
      }
    } else if (Array.isArray(value)) {
      for (const v of value) {
        if (isPlainNode(v) || (Array.isArray(v) && !isInline(v))) {
          lines.push(`${indent}-`);
          emit(v, indent + '  ');
        } else {
          lines.push(`${indent}- ${isInline(v) ? `[${(v as unknown[]).map(scalar).join(', ')}]` : scalar(v)}`);
        }
      }
    } else {
      lines.push(`${indent}${scalar(value)}`);
    }
  };
  emit(configToPlain(cfg), '');
  return lines.join('\n') + '\n';
}
