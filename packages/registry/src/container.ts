/**
 * The dependency-injection registry: one inversify container holding every swappable part under a
 * service id `kind/name` (`criterion/ia_bce`, `matcher/mixed`, `backbone/resnet`), plus shared services
 * (logger, rng, ...) that engine classes receive through `@inject`.
 */
import 'reflect-metadata';
import { Container } from 'inversify';

export const container = new Container();

/** A registered part: a class (constructed with `new`) or a factory function, called with one options object. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PartTarget = (new (opts: any) => unknown) | ((opts: any) => unknown);

interface PartEntry {
  kind: string;
  name: string;
  target: PartTarget;
}

const parts = new Map<string, PartEntry>();
const namesOfTarget = new Map<PartTarget, string>();

export function partId(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** Register `target` as `kind/name`. Registering the same target twice under the same id is a no-op. */
export function registerPart(kind: string, name: string, target: PartTarget): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(kind) || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new Error(`registry: invalid part id "${kind}/${name}" (letters, digits, _ . - only)`);
  }
  const id = partId(kind, name);
  const existing = parts.get(id);
  if (existing) {
    if (existing.target === target) return;
    throw new Error(`registry: "${id}" is already registered to ${existing.target.name}; cannot register ${target.name}`);
  }
  parts.set(id, { kind, name, target });
  if (!namesOfTarget.has(target)) namesOfTarget.set(target, id);
  container.bind<PartTarget>(id).toConstantValue(target);
}

/**
 * Class decorator: `@register('criterion', 'ia_bce') class IABCECriterion {...}`. Parts are then
 * reachable from configs by the string `criterion/ia_bce`.
 */
export function register(kind: string, name: string) {
  return <T extends PartTarget>(target: T): T => {
    registerPart(kind, name, target);
    return target;
  };
}

/** All registered kinds, sorted. */
export function listKinds(): string[] {
  return [...new Set([...parts.values()].map((p) => p.kind))].sort();
}

/** Registered names of a kind (or every `kind/name` id when kind is omitted), sorted. */
export function listParts(kind?: string): string[] {
  return [...parts.values()]
    .filter((p) => kind === undefined || p.kind === kind)
    .map((p) => (kind === undefined ? partId(p.kind, p.name) : p.name))
    .sort();
}

/**
 * Resolve a part by id (`kind/name`), or by bare name within `defaultKind`. Unknown names fail with the
 * list of known names of that kind.
 */
export function resolvePart(id: string, defaultKind?: string): PartTarget {
  const full = id.includes('/') ? id : defaultKind ? partId(defaultKind, id) : id;
  if (container.isBound(full)) return container.get<PartTarget>(full);
  const kind = full.includes('/') ? full.slice(0, full.indexOf('/')) : undefined;
  const known = kind && listKinds().includes(kind) ? listParts(kind).map((n) => `${kind}/${n}`) : [];
  const hint = known.length
    ? `known ${kind} parts: ${known.join(', ')}`
    : `known kinds: ${listKinds().join(', ') || '(none registered: was the package that defines it imported?)'}`;
  throw new Error(`registry: unknown part "${full}"; ${hint}`);
}

/** The `kind/name` id a target was registered under, if any. */
export function partIdOf(target: unknown): string | undefined {
  return typeof target === 'function' ? namesOfTarget.get(target as PartTarget) : undefined;
}

/** The kind of a registered target, if any. */
export function partKindOf(target: unknown): string | undefined {
  const id = partIdOf(target);
  return id ? id.slice(0, id.indexOf('/')) : undefined;
}
