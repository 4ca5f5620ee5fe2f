/**
 * The plain, framework-free tensor that checkpoint IO reads and writes: a dtype, a row-major shape
 * and a little-endian typed array. float16 / bfloat16 are kept as their raw 16-bit patterns
 * (Uint16Array) and bool as 0/1 bytes (Uint8Array), so reading and writing never changes a bit.
 */

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export type RawData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** float16/bfloat16 as Uint16Array bits, bool as Uint8Array (0/1). */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: RawData;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Uint16ArrayConstructor
  | BigInt64ArrayConstructor
  | Int32ArrayConstructor
  | Int16ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor;

interface DTypeInfo {
  itemSize: number;
  arrayType: TypedArrayConstructor;
}

const DTYPE_INFO: Record<DType, DTypeInfo> = {
  float32: { itemSize: 4, arrayType: Float32Array },
  float64: { itemSize: 8, arrayType: Float64Array },
  float16: { itemSize: 2, arrayType: Uint16Array },
  bfloat16: { itemSize: 2, arrayType: Uint16Array },
  int64: { itemSize: 8, arrayType: BigInt64Array },
  int32: { itemSize: 4, arrayType: Int32Array },
  int16: { itemSize: 2, arrayType: Int16Array },
  int8: { itemSize: 1, arrayType: Int8Array },
  uint8: { itemSize: 1, arrayType: Uint8Array },
  bool: { itemSize: 1, arrayType: Uint8Array },
};

export const ALL_DTYPES = Object.keys(DTYPE_INFO) as DType[];

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_INFO, value);
}

export function dtypeItemSize(dtype: DType): number {
  return DTYPE_INFO[dtype].itemSize;
}

/** Number of elements of a shape; `[]` (a scalar) has one. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws unless `shape` is a list of non-negative safe integers. */
export function checkShape(shape: unknown, what: string): asserts shape is number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${what}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Number.isSafeInteger(shapeSize(shape))) throw new Error(`${what}: shape ${JSON.stringify(shape)} is too large`);
}

/**
 * Decodes `byteLength` little-endian bytes at `bytes[byteOffset..]` as `count` elements of `dtype`
 * into a freshly allocated (hence aligned) typed array that owns its memory.
 */
export function decodeLittleEndian(
  bytes: Uint8Array,
  byteOffset: number,
  count: number,
  dtype: DType,
): RawData {
  const info = DTYPE_INFO[dtype];
  const byteLength = count * info.itemSize;
  if (byteOffset < 0 || byteOffset + byteLength > bytes.length) {
    throw new RangeError(`decodeLittleEndian: bytes ${byteOffset}..${byteOffset + byteLength} outside ${bytes.length}`);
  }
  // Uint8Array.prototype.slice copies even when `bytes` is a Node Buffer (whose own slice() is a view).
  const copy = Uint8Array.prototype.slice.call(bytes, byteOffset, byteOffset + byteLength);
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('checkpoint IO needs a little-endian host');
  return new info.arrayType(copy.buffer, 0, count);
}

/** The raw little-endian bytes of a typed array (a view, not a copy). */
export function rawBytes(data: RawData): Uint8Array {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('checkpoint IO needs a little-endian host');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** An all-zero tensor's storage for `count` elements of `dtype`. */
export function allocateRawData(dtype: DType, count: number): RawData {
  return new DTYPE_INFO[dtype].arrayType(count);
}

/** Throws a message naming `what` unless the typed array fits the dtype and the shape. */
export function checkRawTensor(raw: RawTensor, what: string): void {
  if (!raw || typeof raw !== 'object') throw new Error(`${what}: not a RawTensor`);
  if (!isDType(raw.dtype)) throw new Error(`${what}: unknown dtype ${JSON.stringify(raw.dtype)} (expected one of ${ALL_DTYPES.join(', ')})`);
  checkShape(raw.shape, what);
  const expected = DTYPE_INFO[raw.dtype].arrayType;
  if (!(raw.data instanceof expected)) {
    throw new Error(`${what}: dtype ${raw.dtype} needs a ${expected.name}, got ${raw.data?.constructor?.name ?? typeof raw.data}`);
  }
  const n = shapeSize(raw.shape);
  if (raw.data.length !== n) {
    throw new Error(`${what}: shape ${JSON.stringify(raw.shape)} has ${n} elements but the data has ${raw.data.length}`);
  }
}
