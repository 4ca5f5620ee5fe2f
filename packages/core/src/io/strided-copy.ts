/**
 * Materialises a strided view of a flat storage as a new row-major array (what PyTorch's
 * `as_strided(size, stride, storage_offset)` followed by `.contiguous()` gives). Bounds are checked
 * before any element is read.
 */
import { type DType, type RawData, allocateRawData, shapeSize } from './raw-tensor';

/**
 * @param storage the flat storage (any typed array)
 * @param offset first element of the view, in elements
 * @param shape, stride in elements (torch strides are non-negative; 0 repeats an element)
 * @param what names the tensor in error messages
 */
export function materializeStrided(
  storage: RawData,
  dtype: DType,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
  what: string,
): RawData {
  if (shape.length !== stride.length) throw new Error(`${what}: size has ${shape.length} dims but stride has ${stride.length}`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`${what}: storage offset ${offset} is not a non-negative integer`);
  for (let d = 0; d < shape.length; d++) {
    if (!Number.isSafeInteger(shape[d]) || shape[d] < 0) throw new Error(`${what}: size[${d}] = ${shape[d]} is not a non-negative integer`);
    if (!Number.isSafeInteger(stride[d]) || stride[d] < 0) throw new Error(`${what}: stride[${d}] = ${stride[d]} is not a non-negative integer`);
  }
  const count = shapeSize(shape);
  const out = allocateRawData(dtype, count);
  if (count === 0) {
    if (offset > storage.length) throw new Error(`${what}: storage offset ${offset} is past the storage of ${storage.length} elements`);
    return out;
  }
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (last >= storage.length) {
    throw new Error(`${what}: view (offset ${offset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${last} of a storage of ${storage.length}`);
  }
  if (isRowMajor(shape, stride)) {
    (out as Float32Array).set((storage as Float32Array).subarray(offset, offset + count));
    return out;
  }
  // Odometer over the multi-index; `src` tracks the storage position.
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const src = storage as unknown as ArrayLike<number> & { [i: number]: number };
  const dst = out as unknown as { [i: number]: number };
  let position = offset;
  for (let i = 0; i < count; i++) {
    dst[i] = src[position];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      position += stride[d];
      if (index[d] < shape[d]) break;
      position -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** True when the strides are the row-major (C-contiguous) ones; dims of size 1 may have any stride. */
export function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}
