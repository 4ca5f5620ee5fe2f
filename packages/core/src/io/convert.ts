/**
 * RawTensor <-> tf.Tensor. tfjs has float32 / int32 / bool tensors only, so float64, float16 and
 * bfloat16 become float32 and every integer type (and bool, as in PyTorch state dicts) becomes int32.
 */
import * as tf from '@tensorflow/tfjs';
import { bfloat16BitsToNumber, float16BitsToNumber } from './half-float';
import { type RawTensor, checkRawTensor } from './raw-tensor';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * The values of any RawTensor as float32. For a float32 tensor this is `raw.data` itself (no copy:
 * do not mutate it); every other dtype is converted into a new array (int64 via Number()).
 */
export function toFloat32Array(raw: RawTensor): Float32Array {
  const { data } = raw;
  switch (raw.dtype) {
    case 'float32':
      return data as Float32Array;
    case 'float16':
      return Float32Array.from(data as Uint16Array, float16BitsToNumber);
    case 'bfloat16':
      return Float32Array.from(data as Uint16Array, bfloat16BitsToNumber);
    case 'int64': {
      const src = data as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    default:
      return Float32Array.from(data as Exclude<typeof data, BigInt64Array>);
  }
}

/** The values as int32; int64 values outside the int32 range are an error naming `what` and the index. */
export function toInt32Array(raw: RawTensor, what = 'tensor'): Int32Array {
  if (raw.dtype === 'int64') {
    const src = raw.data as BigInt64Array;
    const out = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = Number(src[i]);
      if (v < INT32_MIN || v > INT32_MAX) {
        throw new Error(`${what}: int64 value ${src[i]} at flat index ${i} does not fit int32 (tfjs has no int64)`);
      }
      out[i] = v;
    }
    return out;
  }
  if (raw.dtype === 'int32') return (raw.data as Int32Array).slice();
  if (raw.dtype === 'int16' || raw.dtype === 'int8' || raw.dtype === 'uint8' || raw.dtype === 'bool') {
    return Int32Array.from(raw.data as Int16Array | Int8Array | Uint8Array);
  }
  throw new Error(`${what}: cannot convert ${raw.dtype} to int32`);
}

/**
 * A new tf.Tensor with a copy of the values: float types -> float32; int64 / int32 / int16 / int8 /
 * uint8 / bool -> int32 (throws if an int64 value does not fit int32). `what` names the tensor in errors.
 */
export function rawToTensor(raw: RawTensor, what = 'rawToTensor'): tf.Tensor {
  checkRawTensor(raw, what);
  const shape = [...raw.shape];
  switch (raw.dtype) {
    case 'float32':
      return tf.tensor((raw.data as Float32Array).slice(), shape, 'float32');
    case 'float64':
    case 'float16':
    case 'bfloat16':
      return tf.tensor(toFloat32Array(raw), shape, 'float32');
    default:
      return tf.tensor(toInt32Array(raw, what), shape, 'int32');
  }
}

/** A RawTensor holding a copy of a tensor's values (synchronous read). float32 / int32 / bool only. */
export function tensorToRaw(t: tf.Tensor): RawTensor {
  const shape = [...t.shape];
  const values = t.dataSync();
  switch (t.dtype) {
    case 'float32':
      return { dtype: 'float32', shape, data: Float32Array.from(values as Float32Array) };
    case 'int32':
      return { dtype: 'int32', shape, data: Int32Array.from(values as Int32Array) };
    case 'bool':
      return { dtype: 'bool', shape, data: Uint8Array.from(values as Uint8Array, (v) => (v ? 1 : 0)) };
    default:
      throw new Error(`tensorToRaw: tensors of dtype ${t.dtype} cannot be stored`);
  }
}
