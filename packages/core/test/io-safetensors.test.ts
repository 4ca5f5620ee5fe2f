// safetensors read/write: the Python-written fixtures parse and re-serialise byte for byte; every
// dtype, scalars and zero-length tensors round-trip; the byte layout follows the format; bad files
// give errors naming the file and the tensor.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type RawTensor,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from '../src/io/index';
import { fixturePath } from '../src/testing';

const CODE: Record<string, string> = { float32: 'F32', float64: 'F64', int64: 'I64' };

describe('safetensors on the parity fixtures', () => {
  const index = JSON.parse(fs.readFileSync(fixturePath('index.json'), 'utf8')) as Record<string, { tensors: Record<string, string> }>;

  it('every fixture matches index.json (names, dtypes, shapes) and re-serialises to identical bytes', () => {
    for (const [name, entry] of Object.entries(index)) {
      const bytes = fs.readFileSync(fixturePath(name));
      const { tensors, metadata } = parseSafetensors(bytes, name);
      expect([...tensors.keys()].sort(), name).toEqual(Object.keys(entry.tensors).sort());
      for (const [key, spec] of Object.entries(entry.tensors)) {
        const raw = tensors.get(key)!;
        expect(`${CODE[raw.dtype]}[${raw.shape.join(', ')}]`, `${name}:${key}`).toBe(spec);
      }
      expect(Buffer.from(serializeSafetensors(tensors, metadata)).equals(bytes), `${name} round trip`).toBe(true);
    }
  });

  it('decodes values: box_ops xyxy equals the cxcywh conversion, align_ia_bce tgt_sizes = [3, 0, 6, 2]', () => {
    const box = readSafetensors(fixturePath('box_ops.safetensors')).tensors;
    const c = box.get('boxes1_cxcywh')!.data as Float32Array;
    const x = box.get('boxes1_xyxy')!.data as Float32Array;
    for (let i = 0; i < c.length; i += 4) {
      expect(x[i]).toBe(Math.fround(c[i] - Math.fround(0.5 * c[i + 2]))); // detrex box_cxcywh_to_xyxy in float32
      expect(x[i + 3]).toBe(Math.fround(c[i + 1] + Math.fround(0.5 * c[i + 3])));
    }
    const sizes = readSafetensors(fixturePath('align_ia_bce.safetensors')).tensors.get('tgt_sizes')!;
    expect(sizes.dtype).toBe('int64');
    expect(Array.from(sizes.data as BigInt64Array)).toEqual([3n, 0n, 6n, 2n]);
  });
});

function allDtypes(): Map<string, RawTensor> {
  return new Map<string, RawTensor>([
    ['f32', { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1.5, -2, 0.1, 3e38]) }],
    ['f64', { dtype: 'float64', shape: [], data: Float64Array.from([Math.PI]) }],
    ['f16', { dtype: 'float16', shape: [2], data: Uint16Array.from([0x3e00, 0xfc00]) }],
    ['bf16', { dtype: 'bfloat16', shape: [1, 1], data: Uint16Array.from([0x3fc0]) }],
    ['i64', { dtype: 'int64', shape: [2], data: BigInt64Array.from([-2n, 2n ** 62n]) }],
    ['i32', { dtype: 'int32', shape: [1], data: Int32Array.from([-5]) }],
    ['i16', { dtype: 'int16', shape: [1], data: Int16Array.from([-300]) }],
    ['i8', { dtype: 'int8', shape: [1], data: Int8Array.from([-1]) }],
    ['u8', { dtype: 'uint8', shape: [1], data: Uint8Array.from([250]) }],
    ['bool', { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
    ['empty', { dtype: 'int64', shape: [0], data: new BigInt64Array(0) }],
    ['empty2d', { dtype: 'float32', shape: [3, 0], data: new Float32Array(0) }],
  ]);
}

describe('safetensors writer', () => {
  it('round-trips every dtype, [] scalars, zero-length tensors and metadata', () => {
    const tensors = allDtypes();
    const meta = { config: '{"a": 1}', 'ünïcode': 'värde', '7': 'numeric-looking key' };
    const back = parseSafetensors(serializeSafetensors(tensors, meta), 'mem');
    expect(back.metadata).toEqual(meta);
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [key, raw] of tensors) {
      const got = back.tensors.get(key)!;
      expect(got.dtype, key).toBe(raw.dtype);
      expect(got.shape, key).toEqual(raw.shape);
      expect(got.data.constructor, key).toBe(raw.data.constructor);
      expect(Array.from(got.data as ArrayLike<number>), key).toEqual(Array.from(raw.data as ArrayLike<number>));
    }
  });

  it('lays the bytes out as the format says: u64 header length, padded JSON, little-endian data', () => {
    const bytes = serializeSafetensors(allDtypes(), { k: 'v' });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ k: 'v' });
    expect(header.f16).toEqual({ dtype: 'F16', shape: [2], data_offsets: [24, 28] }); // after 16 + 8 bytes
    expect(header.i64).toEqual({ dtype: 'I64', shape: [2], data_offsets: [30, 46] });
    expect(header.bool).toEqual({ dtype: 'BOOL', shape: [3], data_offsets: [54, 57] });
    expect(header.f64.shape).toEqual([]);
    const data = bytes.subarray(8 + n);
    const at = (key: string) => data.subarray(header[key].data_offsets[0], header[key].data_offsets[1]);
    expect(Array.from(at('f32').subarray(0, 4))).toEqual([0x00, 0x00, 0xc0, 0x3f]); // 1.5f
    expect(Array.from(at('f16'))).toEqual([0x00, 0x3e, 0x00, 0xfc]);
    expect(Array.from(at('i64').subarray(0, 8))).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(Array.from(at('bool'))).toEqual([1, 0, 1]);
    expect(header.empty.data_offsets[0]).toBe(header.empty.data_offsets[1]);
  });

  it('refuses inconsistent tensors with the tensor name', () => {
    const bad = { w: { dtype: 'float32', shape: [2, 3], data: new Float32Array(5) } as RawTensor };
    expect(() => serializeSafetensors(bad)).toThrow(/'w'.*\[2,3\] has 6 elements but the data has 5/);
    const wrongArray = { w: { dtype: 'int64', shape: [1], data: new Int32Array(1) } as unknown as RawTensor };
    expect(() => serializeSafetensors(wrongArray)).toThrow(/'w'.*int64 needs a BigInt64Array/);
  });

  it('writes files atomically and reads them back; the old file survives a failed write', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detr-io-'));
    try {
      const file = path.join(dir, 'w.safetensors');
      writeSafetensors(file, { a: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } });
      writeSafetensors(file, allDtypes(), { round: '2' });
      expect(readSafetensors(file).metadata).toEqual({ round: '2' });
      expect(readSafetensors(file).tensors.size).toBe(12);
      const before = fs.readFileSync(file);
      const bad = { w: { dtype: 'float32', shape: [2], data: new Float32Array(1) } as RawTensor };
      expect(() => writeSafetensors(file, bad)).toThrow();
      expect(fs.readFileSync(file).equals(before)).toBe(true);
      expect(fs.readdirSync(dir)).toEqual(['w.safetensors']); // no temporary files left
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('safetensors reader errors', () => {
  const good = serializeSafetensors(allDtypes());
  const withHeader = (header: object, dataBytes = 0) => {
    const json = Buffer.from(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };

  it('names the file and the problem', () => {
    expect(() => parseSafetensors(good.subarray(0, 5), 'tiny.st')).toThrow(/'tiny\.st'.*too short/);
    expect(() => parseSafetensors(good.subarray(0, 40), 'cut.st')).toThrow(/'cut\.st'.*header length \d+ exceeds the file size/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 3), 'trunc.st')).toThrow(/'trunc\.st': tensor 'bool': data_offsets \[54, 57\] outside the data section/);
    expect(() => parseSafetensors(withHeader({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), 'f8.st')).toThrow(/'f8\.st': tensor 'x': unsupported dtype "F8_E4M3"/);
    expect(() => parseSafetensors(withHeader({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), 'n.st')).toThrow(/tensor 'x'.*span 4 bytes but float32 \[2\] needs 8/);
    expect(() => parseSafetensors(withHeader({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), 's.st')).toThrow(/'s\.st'.*tensor 'x'.*non-negative integers/);
    expect(() => parseSafetensors(withHeader({ __metadata__: { a: 1 } }), 'm.st')).toThrow(/__metadata__\.a must be a string/);
    const badJson = withHeader({});
    badJson[8] = 0x5b; // '[' -> invalid JSON "[}"
    expect(() => parseSafetensors(badJson, 'j.st')).toThrow(/'j\.st': header is not valid UTF-8 JSON/);
    expect(() => readSafetensors('/nonexistent/x.safetensors')).toThrow(/'\/nonexistent\/x\.safetensors': file not found/);
  });
});
