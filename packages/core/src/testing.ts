/**
 * `@detr/core/testing`: helpers shared by every package's tests and by scripts. They throw plain
 * Errors (no vitest import), so they also work outside a test runner.
 *
 * The comparison rule is fixtures/parity/README.md section 2, per tensor:
 *   ok  <=>  |a - r| <= rtol * |r| + rtol * max(|r| over the tensor)   for every element.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { type RawTensor, isRawTensor, rawToTensor, readSafetensors, toFloat32Array } from './io/index';

/** Tolerances of fixtures/parity/README.md section 2 (indices are compared with `expectExact`). */
export const RTOL = { activation: 1e-5, loss: 1e-4, grad: 1e-4 } as const;

let cachedRoot: string | undefined;

/** The repository root: the nearest folder holding `nx.json`, above this file or else above the cwd. */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  const starts = [path.dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, 'nx.json'))) return (cachedRoot = dir);
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`repoRoot: no folder with nx.json above ${starts.join(' or ')}`);
}

/** `<repo>/fixtures/parity/<name>` (the repository copy of the parity fixtures). */
export function fixturePath(name: string): string {
  return path.join(repoRoot(), 'fixtures', 'parity', name);
}

export interface Fixture {
  tensors: Map<string, RawTensor>;
  /** `__metadata__.config` parsed from JSON; null when the file has none. */
  config: any;
  metadata: Record<string, string>;
}

const fixtureCache = new Map<string, Fixture>();

/** A parity safetensors fixture (the `.safetensors` suffix may be omitted), read once per process. */
export function loadFixture(name: string): Fixture {
  const file = name.endsWith('.safetensors') ? name : `${name}.safetensors`;
  const cached = fixtureCache.get(file);
  if (cached) return cached;
  const filePath = fixturePath(file);
  if (!fs.existsSync(filePath)) throw new Error(`loadFixture: no fixture '${file}' (looked for ${filePath})`);
  const { tensors, metadata } = readSafetensors(filePath);
  let config: any = null;
  if (metadata.config !== undefined) {
    try {
      config = JSON.parse(metadata.config);
    } catch (err) {
      throw new Error(`loadFixture: __metadata__.config of '${filePath}' is not valid JSON: ${(err as Error).message}`);
    }
  }
  const fixture: Fixture = { tensors, config, metadata };
  fixtureCache.set(file, fixture);
  return fixture;
}

/** One RawTensor of a fixture; a missing key is an error listing close names. */
export function fixtureRaw(file: string, key: string): RawTensor {
  const { tensors } = loadFixture(file);
  const raw = tensors.get(key);
  if (!raw) {
    const stem = key.split('/').slice(0, -1).join('/');
    const near = [...tensors.keys()].filter((k) => (stem ? k.startsWith(stem) : true)).slice(0, 12);
    throw new Error(`fixture '${file}' has no tensor '${key}'${near.length ? `; some that exist: ${near.join(', ')}` : ''}`);
  }
  return raw;
}

/** A fixture tensor as a new tf.Tensor (float -> float32, int64 -> int32); the caller disposes it. */
export function fixtureTensor(file: string, key: string): tf.Tensor {
  return rawToTensor(fixtureRaw(file, key), `fixture '${file}' tensor '${key}'`);
}

type Values = ArrayLike<number> | ArrayLike<bigint>;

interface Sized {
  values: ArrayLike<number | bigint>;
  shape: number[] | null;
}

function sized(x: tf.Tensor | RawTensor | Values, label: string, role: string): Sized {
  if (x instanceof tf.Tensor) {
    if (x.isDisposed) throw new Error(`${label}: the ${role} tensor is already disposed`);
    if (x.dtype === 'string' || x.dtype === 'complex64') throw new Error(`${label}: cannot compare a ${x.dtype} ${role} tensor`);
    return { values: x.dataSync() as ArrayLike<number>, shape: [...x.shape] };
  }
  if (isRawTensor(x)) {
    // float16 / bfloat16 hold bit patterns: decode them; int64 stays bigint for exact comparison.
    const values = x.dtype === 'float16' || x.dtype === 'bfloat16' ? toFloat32Array(x) : (x.data as ArrayLike<number | bigint>);
    return { values, shape: [...x.shape] };
  }
  if (x === null || typeof x !== 'object' || typeof (x as ArrayLike<number>).length !== 'number') {
    throw new Error(`${label}: the ${role} is not a tensor, a RawTensor or an array`);
  }
  return { values: x, shape: null };
}

function checkSameSize(a: Sized, r: Sized, label: string): void {
  if (a.shape && r.shape && a.shape.join(',') !== r.shape.join(',')) {
    throw new Error(`${label}: shape [${a.shape.join(', ')}] differs from the reference shape [${r.shape.join(', ')}]`);
  }
  if (a.values.length !== r.values.length) {
    throw new Error(`${label}: ${a.values.length} elements but the reference has ${r.values.length}`);
  }
}

function indexText(flat: number, shape: number[] | null): string {
  if (!shape || shape.length < 2) return `${flat}`;
  const idx: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `${flat} [${idx.join(', ')}]`;
}

/**
 * Throws unless `|a - r| <= rtol*|r| + rtol*max|r|` holds for every element (README section 2),
 * and shapes (where both are known) match. Values equal as numbers (also +-Infinity) pass; NaN fails.
 * The error names the label, the number of failing elements, and the worst one (index, both values,
 * the difference and the allowed error).
 *
 * @returns the worst |a - r| / allowed ratio over the tensor (<= 1 when it passes), to report headroom.
 */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  reference: RawTensor | tf.Tensor | ArrayLike<number>,
  rtol: number,
  label: string,
): number {
  if (!(rtol >= 0) || !Number.isFinite(rtol)) throw new Error(`${label}: rtol must be a finite number >= 0, got ${rtol}`);
  const a = sized(actual, label, 'actual');
  const r = sized(reference, label, 'reference');
  checkSameSize(a, r, label);
  const n = r.values.length;
  const ref = new Float64Array(n);
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    ref[i] = Number(r.values[i]);
    const m = Math.abs(ref[i]);
    if (m > maxAbs && m !== Infinity) maxAbs = m;
  }
  const floor = rtol * maxAbs;
  let failures = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < n; i++) {
    const av = Number(a.values[i]);
    const rv = ref[i];
    if (av === rv) continue;
    const diff = Math.abs(av - rv);
    const allowed = rtol * Math.abs(rv) + floor;
    // av !== rv here, so diff > 0 (or NaN); with allowed = 0 any difference fails.
    const ratio = Number.isNaN(diff) || allowed === 0 ? Infinity : diff / allowed;
    if (!(diff <= allowed)) failures++;
    if (worst < 0 || ratio > worstRatio) {
      worst = i;
      worstRatio = ratio;
    }
  }
  if (failures > 0) {
    const av = Number(a.values[worst]);
    const rv = ref[worst];
    const allowed = rtol * Math.abs(rv) + floor;
    throw new Error(
      `${label}: ${failures} of ${n} elements outside |a - r| <= rtol*|r| + rtol*max|r| (rtol ${rtol}, max|r| ${fmt(maxAbs)}); ` +
        `worst at index ${indexText(worst, r.shape ?? a.shape)}: actual ${fmt(av)}, reference ${fmt(rv)}, ` +
        `|a - r| ${fmt(Math.abs(av - rv))} > allowed ${fmt(allowed)}`,
    );
  }
  return worstRatio;
}

/** Throws unless every element is exactly equal (as numbers; int64 is compared exactly) and shapes match. */
export function expectExact(
  actual: tf.Tensor | Values,
  reference: RawTensor | tf.Tensor | Values,
  label: string,
): void {
  const a = sized(actual, label, 'actual');
  const r = sized(reference, label, 'reference');
  checkSameSize(a, r, label);
  let failures = 0;
  let first = -1;
  for (let i = 0; i < r.values.length; i++) {
    if (!sameInteger(a.values[i], r.values[i])) {
      failures++;
      if (first < 0) first = i;
    }
  }
  if (failures > 0) {
    throw new Error(
      `${label}: ${failures} of ${r.values.length} elements differ; first at index ${indexText(first, r.shape ?? a.shape)}: ` +
        `actual ${a.values[first]}, reference ${r.values[first]}`,
    );
  }
}

function sameInteger(x: number | bigint, y: number | bigint): boolean {
  if (typeof x === 'bigint' || typeof y === 'bigint') {
    try {
      return BigInt(x) === BigInt(y);
    } catch {
      return false; // a non-integer number against a bigint
    }
  }
  return x === y;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(9) : String(v);
}

/** Backend setup, parity headroom and step audits for tests that run on several backends. */
export * from './testing_backends';
export * from './testing_gradients';
