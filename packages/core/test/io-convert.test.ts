// RawTensor <-> tf.Tensor conversion and the float16 / bfloat16 codecs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  type RawTensor,
  bfloat16BitsToNumber,
  float16BitsToNumber,
  numberToBfloat16Bits,
  numberToFloat16Bits,
  rawToTensor,
  tensorToRaw,
  toFloat32Array,
} from '../src/io/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => {
  tf.disposeVariables();
});

describe('half-precision codecs', () => {
  it('decode known IEEE patterns exactly', () => {
    const f16: [number, number][] = [
      [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24],
      [0x0400, 2 ** -14], [0x3555, 0.333251953125], [0x7c00, Infinity], [0xfc00, -Infinity],
    ];
    for (const [bits, value] of f16) expect(float16BitsToNumber(bits), bits.toString(16)).toBe(value);
    expect(float16BitsToNumber(0x7e00)).toBeNaN();
    expect(Object.is(float16BitsToNumber(0x8000), -0)).toBe(true);
    expect(bfloat16BitsToNumber(0x3f80)).toBe(1);
    expect(bfloat16BitsToNumber(0x4049)).toBe(3.140625);
    expect(bfloat16BitsToNumber(0xff80)).toBe(-Infinity);
  });

  it('encode(decode(bits)) is the identity on all 65536 non-NaN patterns', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const h = float16BitsToNumber(bits);
      if (!Number.isNaN(h) && numberToFloat16Bits(h) !== bits) throw new Error(`float16 ${bits.toString(16)}`);
      const b = bfloat16BitsToNumber(bits);
      if (!Number.isNaN(b) && numberToBfloat16Bits(b) !== bits) throw new Error(`bfloat16 ${bits.toString(16)}`);
    }
  });

  it('encoding rounds to nearest, ties to even', () => {
    expect(numberToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (1.0)
    expect(numberToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (1 + 2^-9)
    expect(numberToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(numberToFloat16Bits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(numberToFloat16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal -> 0
    expect(numberToFloat16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(numberToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(numberToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });
});

describe('rawToTensor / tensorToRaw', () => {
  it('converts every dtype to float32 or int32 with the right values and no leaked tensors', () => {
    const before = tf.memory().numTensors;
    const cases: [RawTensor, string, number[]][] = [
      [{ dtype: 'float32', shape: [2], data: Float32Array.from([1.5, -2]) }, 'float32', [1.5, -2]],
      [{ dtype: 'float64', shape: [], data: Float64Array.from([0.1]) }, 'float32', [Math.fround(0.1)]],
      [{ dtype: 'float16', shape: [2], data: Uint16Array.from([0x3e00, 0xc000]) }, 'float32', [1.5, -2]],
      [{ dtype: 'bfloat16', shape: [1], data: Uint16Array.from([0x4049]) }, 'float32', [3.140625]],
      [{ dtype: 'int64', shape: [3], data: BigInt64Array.from([-(2n ** 31n), 0n, 2n ** 31n - 1n]) }, 'int32', [-(2 ** 31), 0, 2 ** 31 - 1]],
      [{ dtype: 'int32', shape: [1, 1], data: Int32Array.from([7]) }, 'int32', [7]],
      [{ dtype: 'int16', shape: [1], data: Int16Array.from([-300]) }, 'int32', [-300]],
      [{ dtype: 'int8', shape: [1], data: Int8Array.from([-128]) }, 'int32', [-128]],
      [{ dtype: 'uint8', shape: [1], data: Uint8Array.from([255]) }, 'int32', [255]],
      [{ dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) }, 'int32', [1, 0]],
      [{ dtype: 'int64', shape: [0, 2], data: new BigInt64Array(0) }, 'int32', []],
    ];
    for (const [raw, dtype, values] of cases) {
      const t = rawToTensor(raw);
      expect(t.dtype, raw.dtype).toBe(dtype);
      expect(t.shape, raw.dtype).toEqual(raw.shape);
      expect(Array.from(t.dataSync()), raw.dtype).toEqual(values);
      t.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses int64 values outside int32 with the index, and bad RawTensors with the name', () => {
    const big: RawTensor = { dtype: 'int64', shape: [2], data: BigInt64Array.from([1n, 2n ** 31n]) };
    expect(() => rawToTensor(big, 'tgt_labels')).toThrow(/tgt_labels: int64 value 2147483648 at flat index 1 does not fit int32/);
    const wrong = { dtype: 'float32', shape: [3], data: new Float32Array(2) } as RawTensor;
    expect(() => rawToTensor(wrong, 'w')).toThrow(/w: shape \[3\] has 3 elements but the data has 2/);
  });

  it('the tensor does not alias the RawTensor memory, and tensorToRaw copies back', () => {
    const raw: RawTensor = { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) };
    const t = rawToTensor(raw);
    raw.data[0] = 100;
    expect(t.dataSync()[0]).toBe(1);
    const back = tensorToRaw(t);
    expect(back).toEqual({ dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) });
    back.data[1] = -1;
    expect(t.dataSync()[1]).toBe(2);
    t.dispose();
    const b = tf.tensor([true, false, true], [3], 'bool');
    expect(tensorToRaw(b)).toEqual({ dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) });
    const i = tf.tensor([5, -6], [2], 'int32');
    expect(tensorToRaw(i)).toEqual({ dtype: 'int32', shape: [2], data: Int32Array.from([5, -6]) });
    tf.dispose([b, i]);
  });

  it('toFloat32Array converts every dtype', () => {
    expect(Array.from(toFloat32Array({ dtype: 'int64', shape: [2], data: BigInt64Array.from([-3n, 4n]) }))).toEqual([-3, 4]);
    expect(Array.from(toFloat32Array({ dtype: 'float16', shape: [1], data: Uint16Array.from([0x3555]) }))).toEqual([0.333251953125]);
    expect(Array.from(toFloat32Array({ dtype: 'bool', shape: [2], data: Uint8Array.from([0, 1]) }))).toEqual([0, 1]);
  });
});
