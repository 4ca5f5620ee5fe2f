/**
 * Loader for the parity fixtures' weight manifests (`*.weights.json`, fixtures/parity/README.md
 * section 3). The manifest lists every state-dict entry in `state_dict()` order as
 * `{key, shape, dtype, ...}` plus one of
 *   `init: "prng", seed, offset, scale`  -> prngUniform(seed, numel, offset, scale), row-major;
 *   `init: "const", value`               -> every element = value;
 *   `alias_of: otherKey`                 -> the same tensor as otherKey (tied weights);
 * and a check pair `sum` (float64 sum of the float32 values) and `first` (the first values).
 */
import { readJsonFile } from './json-file';
import { type DType, type RawTensor, allocateRawData, checkShape, shapeSize } from './raw-tensor';
import { prngUniform } from './weight-prng';

export interface WeightManifestOptions {
  /** Check each generated entry against its `sum` and `first` (default true; ~0.1 s per 35 M values). */
  verify?: boolean;
}

const CODE_TO_DTYPE: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

/**
 * Relative tolerance of the `sum` check, against sum(|x|). The reference sum comes from numpy's
 * pairwise float64 summation (error ~ log2(n) * 2^-53 * sum|x|); ours is compensated (near exact).
 */
const SUM_RTOL = 1e-14; // the fixtures' sums match ours within 5e-19 * sum|x|

/** Reads a `*.weights.json` manifest and builds every entry; tied (`alias_of`) entries share data. */
export function loadWeightManifest(filePath: string, options: WeightManifestOptions = {}): Map<string, RawTensor> {
  return buildWeightManifest(readJsonFile(filePath, 'weight manifest'), filePath, options);
}

/** Builds the tensors of an already parsed manifest; `source` names it in errors. */
export function buildWeightManifest(manifest: unknown, source: string, options: WeightManifestOptions = {}): Map<string, RawTensor> {
  const verify = options.verify ?? true;
  const list = (manifest as { tensors?: unknown })?.tensors;
  if (!Array.isArray(list)) throw new Error(`weight manifest '${source}': missing the 'tensors' list`);
  const out = new Map<string, RawTensor>();
  const aliases: { key: string; target: string; dtype: DType; shape: number[]; what: string }[] = [];

  list.forEach((entry: Record<string, unknown>, index: number) => {
    const label = typeof entry?.key === 'string' ? `'${entry.key}'` : '';
    const what = `weight manifest '${source}': entry ${index} ${label}`.trimEnd();
    if (entry === null || typeof entry !== 'object') throw new Error(`${what}: not an object`);
    const { key, shape, dtype: code } = entry;
    if (typeof key !== 'string' || key === '') throw new Error(`${what}: 'key' must be a non-empty string`);
    if (out.has(key) || aliases.some((a) => a.key === key)) throw new Error(`${what}: duplicate key`);
    checkShape(shape, what);
    const dtype = typeof code === 'string' ? CODE_TO_DTYPE[code] : undefined;
    if (!dtype || !Object.hasOwn(CODE_TO_DTYPE, code as string)) {
      throw new Error(`${what}: unsupported dtype ${JSON.stringify(code)} (expected one of ${Object.keys(CODE_TO_DTYPE).join(', ')})`);
    }
    const n = shapeSize(shape);

    if (entry.alias_of !== undefined) {
      if (typeof entry.alias_of !== 'string') throw new Error(`${what}: 'alias_of' must be a key`);
      aliases.push({ key, target: entry.alias_of, dtype, shape: [...shape], what });
      out.set(key, undefined as unknown as RawTensor); // placeholder keeps the state-dict order
      return;
    }
    let raw: RawTensor;
    if (entry.init === 'prng') {
      const { seed, offset, scale } = entry;
      for (const [name, v] of Object.entries({ seed, offset, scale })) {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what}: '${name}' must be a finite number`);
      }
      if (!Number.isSafeInteger(seed) || (seed as number) < 0 || (seed as number) > 0xffffffff) throw new Error(`${what}: 'seed' must be a uint32`);
      if (dtype !== 'float32') throw new Error(`${what}: prng entries must be F32, got ${code}`);
      raw = { dtype, shape: [...shape], data: prngUniform(seed as number, n, offset as number, scale as number) };
    } else if (entry.init === 'const') {
      raw = { dtype, shape: [...shape], data: constantData(dtype, n, entry.value, what) };
    } else {
      throw new Error(`${what}: expected "init": "prng" | "const" or "alias_of", got init ${JSON.stringify(entry.init)}`);
    }
    if (verify) verifyEntry(raw, entry, what);
    out.set(key, raw);
  });

  for (const alias of aliases) {
    const target = out.get(alias.target);
    if (!target || aliases.some((a) => a.key === alias.target)) {
      throw new Error(`${alias.what}: alias_of '${alias.target}' is not a generated entry of this manifest`);
    }
    if (target.dtype !== alias.dtype || target.shape.join(',') !== alias.shape.join(',')) {
      throw new Error(`${alias.what}: ${alias.dtype}[${alias.shape}] does not match its alias_of '${alias.target}' ${target.dtype}[${target.shape}]`);
    }
    out.set(alias.key, { dtype: alias.dtype, shape: alias.shape, data: target.data });
  }
  return out;
}

function constantData(dtype: DType, n: number, value: unknown, what: string) {
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new Error(`${what}: const 'value' must be a number`);
  const v = Number(value);
  const data = allocateRawData(dtype, n);
  if (dtype === 'int64') {
    if (!Number.isSafeInteger(v)) throw new Error(`${what}: const value ${v} is not an integer`);
    (data as BigInt64Array).fill(BigInt(v));
  } else {
    (data as Float64Array).fill(v);
  }
  return data;
}

/** Compares an entry with its recorded `sum` and `first` values. */
function verifyEntry(raw: RawTensor, entry: Record<string, unknown>, what: string): void {
  const values: ArrayLike<number | bigint> = raw.data;
  if (entry.first !== undefined) {
    if (!Array.isArray(entry.first)) throw new Error(`${what}: 'first' must be a list`);
    const first = entry.first as unknown[];
    first.forEach((expected, i) => {
      if (i >= values.length) throw new Error(`${what}: 'first' lists ${first.length} values but the tensor has ${values.length}`);
      const actual = Number(values[i]);
      if (actual !== expected) {
        throw new Error(`${what}: value ${i} is ${actual} but the manifest records ${expected} (generator mismatch)`);
      }
    });
  }
  if (entry.sum !== undefined) {
    if (typeof entry.sum !== 'number') throw new Error(`${what}: 'sum' must be a number`);
    const { sum, absSum } = compensatedSum(raw.data instanceof Float32Array ? raw.data : Float64Array.from(values, Number));
    const allowed = SUM_RTOL * absSum;
    if (!(Math.abs(sum - entry.sum) <= allowed)) {
      throw new Error(`${what}: values sum to ${sum} but the manifest records ${entry.sum} (allowed difference ${allowed.toExponential(2)}; generator mismatch)`);
    }
  }
}

/** Neumaier-compensated float64 sum (near exact) and the sum of magnitudes. */
function compensatedSum(values: Float32Array | Float64Array): { sum: number; absSum: number } {
  let sum = 0;
  let compensation = 0;
  let absSum = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    const t = sum + x;
    compensation += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
    absSum += Math.abs(x);
  }
  return { sum: sum + compensation, absSum };
}
