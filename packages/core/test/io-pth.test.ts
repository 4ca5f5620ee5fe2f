// The PyTorch .pth reader against the two genuine torch.save files of the parity fixtures
// (fixtures/parity/README.md section 3): same tensors, bit for bit, as their .safetensors twins.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import {
  type RawTensor,
  ZipArchive,
  findStateDict,
  parsePth,
  pickleAttributes,
  readPth,
  readSafetensors,
} from '../src/io/index';
import { fixturePath } from '../src/testing';

function bytesOf(raw: RawTensor): Buffer {
  return Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
}

function expectSameBits(actual: RawTensor, expected: RawTensor, key: string): void {
  expect(actual.dtype, key).toBe(expected.dtype);
  expect(actual.shape, key).toEqual(expected.shape);
  expect(bytesOf(actual).equals(bytesOf(expected)), `${key}: bytes differ`).toBe(true);
}

/** The manifest's alias_of map (independent of the reader): tied key -> stored key. */
function aliasesOf(manifest: string): Map<string, string> {
  const json = JSON.parse(fs.readFileSync(fixturePath(manifest), 'utf8'));
  return new Map(json.tensors.filter((t: any) => t.alias_of).map((t: any) => [t.key, t.alias_of]));
}

describe('readPth on the parity fixtures', () => {
  it('resnet50_tv_head.pth equals its .safetensors twin bit for bit (66 entries incl. int64 scalars)', () => {
    const pth = readPth(fixturePath('resnet50_tv_head.pth'));
    const twin = readSafetensors(fixturePath('resnet50_tv_head.safetensors')).tensors;
    expect(pth.tensors.size).toBe(66);
    expect([...pth.tensors.keys()]).toEqual([...twin.keys()]); // state_dict() order kept
    for (const [key, raw] of pth.tensors) expectSameBits(raw, twin.get(key)!, key);
    const nbt = pth.tensors.get('bn1.num_batches_tracked')!;
    expect(nbt.dtype).toBe('int64');
    expect(nbt.shape).toEqual([]);
  });

  it('aligndetr_r50_small_head.pth: 126 entries on 102 storages; tied entries resolve to the shared storage', () => {
    const file = fixturePath('aligndetr_r50_small_head.pth');
    const pth = readPth(file);
    const twin = readSafetensors(fixturePath('aligndetr_r50_small_head.safetensors')).tensors;
    const aliases = aliasesOf('aligndetr_r50_small.weights.json');
    expect(pth.tensors.size).toBe(126);
    const storages = new ZipArchive(fs.readFileSync(file), file).names().filter((n) => /\/data\/\d+$/.test(n));
    expect(storages.length).toBe(102);
    let tied = 0;
    for (const [key, raw] of pth.tensors) {
      const stored = aliases.get(key) ?? key;
      if (stored !== key) tied++;
      expect(twin.has(stored), `${key} -> ${stored}`).toBe(true);
      expectSameBits(raw, twin.get(stored)!, key);
    }
    expect(tied).toBe(24);
    // Each tensor owns its memory even when the storage is shared.
    expect(pth.tensors.get('class_embed.0.weight')!.data).not.toBe(pth.tensors.get('transformer.decoder.class_embed.0.weight')!.data);
  });

  it('returns the whole object with the BUILD-set _metadata attribute of the state dict', () => {
    const { object, tensors } = readPth(fixturePath('resnet50_tv_head.pth'));
    expect(object).toBeInstanceOf(Map);
    expect(findStateDict(object)).toBe(object);
    const attrs = pickleAttributes(object as Map<unknown, unknown>)!;
    const metadata = attrs.get('_metadata') as Map<string, Map<string, number>>;
    expect(metadata).toBeInstanceOf(Map);
    expect(metadata.get('bn1')?.get('version')).toBe(2); // BatchNorm's _version
    expect(tensors.get('conv1.weight')!.shape).toEqual([64, 3, 7, 7]);
  });

  it('reads the file whatever its top folder is named (not only archive/)', () => {
    const names = new ZipArchive(fs.readFileSync(fixturePath('resnet50_tv_head.pth')), 'x').names();
    expect(names[0]).toBe('resnet50_tv_head/data.pkl');
  });

  it('corrupt or truncated files give an error naming the file, never a hang or RangeError', () => {
    const file = fixturePath('resnet50_tv_head.pth');
    const bytes = fs.readFileSync(file);
    const cuts = [0, 1, 10, 100, 11_900, 500_000, bytes.length - 23, bytes.length - 1];
    for (const cut of cuts) {
      expect(() => parsePth(bytes.subarray(0, cut), 'cut.pth'), `cut at ${cut}`).toThrow(/'cut\.pth'/);
    }
    const flipped = Buffer.from(bytes);
    flipped[50_000] ^= 0x40; // inside storage data/1
    expect(() => parsePth(flipped, 'flipped.pth')).toThrow(/flipped\.pth.*CRC-32 mismatch in 'resnet50_tv_head\/data\/1'/);
    const badPickle = Buffer.from(bytes);
    badPickle[200] ^= 0xff; // inside data.pkl (which starts at byte 64)
    expect(() => parsePth(badPickle, 'bad.pth')).toThrow(/bad\.pth.*CRC-32 mismatch in 'resnet50_tv_head\/data\.pkl'/);
    expect(() => readPth(fixturePath('no_such.pth'))).toThrow(/no_such\.pth.*file not found/);
  });

  it('recognises the legacy (non-zip) torch.save format with a clear error', () => {
    const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    expect(() => parsePth(legacy, 'old.pth')).toThrow(/old\.pth.*legacy \(pre-1\.6, non-zip\)/);
  });
});
