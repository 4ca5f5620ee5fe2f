/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors, format as in
 * fixtures/parity/README.md section 1): an 8-byte little-endian u64 header length N, N bytes of
 * JSON `{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}`
 * padded with spaces to a multiple of 8, then the raw little-endian data (offsets relative to the
 * start of the data section).
 */
import * as fs from 'node:fs';
import { writeFileAtomic } from './atomic-write';
import {
  type DType,
  type RawTensor,
  checkRawTensor,
  checkShape,
  decodeLittleEndian,
  dtypeItemSize,
  rawBytes,
  shapeSize,
} from './raw-tensor';

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

export type TensorCollection = Map<string, RawTensor> | Record<string, RawTensor>;

const DTYPE_TO_CODE: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const CODE_TO_DTYPE = new Map<string, DType>(
  Object.entries(DTYPE_TO_CODE).map(([dtype, code]) => [code, dtype as DType]),
);

/** Header sizes above this are refused (the reference implementation uses the same 100 MB cap). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export function readSafetensors(filePath: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(filePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`Cannot read safetensors file '${filePath}': ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`, { cause: err });
  }
  return parseSafetensors(bytes, filePath);
}

/**
 * Parses a whole safetensors file held in memory. Every tensor gets its own copy of the data.
 * Tensors are returned in the order of their data (which is the writing order), not the JSON order.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<safetensors bytes>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`safetensors '${source}': ${msg}`);
  };
  if (bytes.length < 8) fail(`file too short (${bytes.length} bytes) to hold the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) fail(`header length ${headerLength} exceeds the file size ${bytes.length} (truncated or not a safetensors file)`);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLength);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: DType; shape: number[]; begin: number; order: number }[] = [];
  let order = 0;
  for (const [name, spec] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) fail(`${METADATA_KEY} must be an object of strings`);
      for (const [k, v] of Object.entries(spec as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY}.${k} must be a string, got ${typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (spec === null || typeof spec !== 'object') fail(`tensor '${name}': entry is not an object`);
    const { dtype: code, shape, data_offsets: offsets } = spec as Record<string, unknown>;
    const dtype = typeof code === 'string' ? CODE_TO_DTYPE.get(code) : undefined;
    if (!dtype) fail(`tensor '${name}': unsupported dtype ${JSON.stringify(code)} (supported: ${[...CODE_TO_DTYPE.keys()].join(', ')})`);
    checkShape(shape, `safetensors '${source}': tensor '${name}'`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}': data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > dataLength) fail(`tensor '${name}': data_offsets [${begin}, ${end}] outside the data section of ${dataLength} bytes (truncated file?)`);
    const expectedBytes = shapeSize(shape) * dtypeItemSize(dtype!);
    if (end - begin !== expectedBytes) {
      fail(`tensor '${name}': data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expectedBytes}`);
    }
    entries.push({ name, dtype: dtype!, shape: [...shape], begin, order: order++ });
  }
  entries.sort((a, b) => a.begin - b.begin || a.order - b.order);

  const tensors = new Map<string, RawTensor>();
  for (const e of entries) {
    const data = decodeLittleEndian(bytes, dataStart + e.begin, shapeSize(e.shape), e.dtype);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Serialises tensors (in iteration order) and optional string metadata to safetensors bytes. */
export function serializeSafetensors(tensors: TensorCollection, metadata?: Record<string, string>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const parts: string[] = [];
  if (metadata !== undefined) {
    const metaParts: string[] = [];
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`serializeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
      metaParts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"${METADATA_KEY}":{${metaParts.join(',')}}`);
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, raw] of list) {
    if (name === METADATA_KEY) throw new Error(`serializeSafetensors: '${METADATA_KEY}' cannot be a tensor name`);
    checkRawTensor(raw, `serializeSafetensors: tensor '${name}'`);
    const blob = rawBytes(raw.data);
    const spec = `{"dtype":"${DTYPE_TO_CODE[raw.dtype]}","shape":[${raw.shape.join(',')}],"data_offsets":[${offset},${offset + blob.length}]}`;
    parts.push(`${JSON.stringify(name)}:${spec}`);
    blobs.push(blob);
    offset += blob.length;
  }
  const headerText = `{${parts.join(',')}}`;
  const headerUtf8 = new TextEncoder().encode(headerText);
  const paddedLength = Math.ceil(headerUtf8.length / 8) * 8;
  const out = new Uint8Array(8 + paddedLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedLength), true);
  out.set(headerUtf8, 8);
  out.fill(0x20, 8 + headerUtf8.length, 8 + paddedLength);
  let cursor = 8 + paddedLength;
  for (const blob of blobs) {
    out.set(blob, cursor);
    cursor += blob.length;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary file, fsync, rename). */
export function writeSafetensors(filePath: string, tensors: TensorCollection, metadata?: Record<string, string>): void {
  writeFileAtomic(filePath, serializeSafetensors(tensors, metadata));
}
