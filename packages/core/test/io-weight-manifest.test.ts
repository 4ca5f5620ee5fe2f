// The fixtures' weight PRNG and manifest loader (fixtures/parity/README.md section 3): the README's
// test vectors, every manifest entry's recorded sum / first values, and the 168 stored head tensors
// of the two *_head.safetensors files, bit for bit.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type RawTensor, buildWeightManifest, loadWeightManifest, lowbias32, prngUniform, prngUnit, readSafetensors } from '../src/io/index';
import { fixturePath } from '../src/testing';

function sameBits(a: RawTensor, b: RawTensor): boolean {
  return Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));
}

describe('weight PRNG', () => {
  it('reproduces the README test vectors', () => {
    expect([0, 1, 2, 3, 4].map((i) => prngUnit(7, i))).toEqual([
      0.33076345920562744, 0.8078889846801758, 0.5022550225257874, 0.2555080056190491, 0.8233385682106018,
    ]);
    expect(Array.from(prngUniform(7, 6, 0.5, 0.25))).toEqual([
      0.4153817296028137, 0.6539444923400879, 0.5011274814605713, 0.37775400280952454, 0.6616692543029785, 0.37528669834136963,
    ]);
  });

  it('lowbias32 stays in uint32 for inputs beyond 2^31', () => {
    for (const x of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const h = lowbias32(x);
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
    expect(lowbias32(0)).toBe(0); // the hash fixes 0
    expect(lowbias32(2 ** 32 + 5)).toBe(lowbias32(5));
  });
});

/** Each manifest is built (and verified) once per file run. */
const built = new Map<string, Map<string, RawTensor>>();
function manifestTensors(name: string): Map<string, RawTensor> {
  if (!built.has(name)) built.set(name, loadWeightManifest(fixturePath(name))); // verify: true checks sum and first
  return built.get(name)!;
}

describe('loadWeightManifest', () => {
  const cases = [
    { manifest: 'resnet50.weights.json', head: 'resnet50_tv_head.safetensors', count: 320, stored: 66 },
    { manifest: 'aligndetr_r50_small.weights.json', head: 'aligndetr_r50_small_head.safetensors', count: 418, stored: 102 },
  ];
  for (const { manifest, head, count, stored } of cases) {
    it(`${manifest}: every entry matches its sum/first, in state-dict order; ${head} equals it bit for bit`, () => {
      const tensors = manifestTensors(manifest);
      const json = JSON.parse(fs.readFileSync(fixturePath(manifest), 'utf8'));
      expect([...tensors.keys()]).toEqual(json.tensors.map((t: { key: string }) => t.key));
      expect(tensors.size).toBe(count);
      const heads = readSafetensors(fixturePath(head)).tensors;
      expect(heads.size).toBe(stored);
      for (const [key, raw] of heads) {
        expect(tensors.has(key), key).toBe(true);
        const generated = tensors.get(key)!;
        expect(generated.shape, key).toEqual(raw.shape);
        expect(generated.dtype, key).toBe(raw.dtype);
        expect(sameBits(generated, raw), key).toBe(true);
      }
    });
  }

  it('tied (alias_of) entries share the data of the entry they name', () => {
    const tensors = manifestTensors('aligndetr_r50_small.weights.json');
    expect(tensors.get('class_embed.1.bias')!.data).toBe(tensors.get('transformer.decoder.class_embed.1.bias')!.data);
    const nbt = manifestTensors('resnet50.weights.json').get('bn1.num_batches_tracked')!;
    expect(nbt).toEqual({ dtype: 'int64', shape: [], data: BigInt64Array.from([0n]) });
  });

  it('a generator mismatch or a malformed entry is an error naming the manifest and the key', () => {
    const base = {
      tensors: [
        { key: 'w', shape: [2, 3], dtype: 'F32', init: 'prng', seed: 7, offset: 0.5, scale: 0.25, sum: 0, first: [0.4153817296028137] },
      ],
    };
    const sum = Array.from(prngUniform(7, 6, 0.5, 0.25)).reduce((a, b) => a + b, 0);
    expect(buildWeightManifest({ tensors: [{ ...base.tensors[0], sum }] }, 'm.json').get('w')!.shape).toEqual([2, 3]);
    expect(() => buildWeightManifest(base, 'm.json')).toThrow(/'m\.json': entry 0 'w': values sum to .* but the manifest records 0/);
    const badFirst = { tensors: [{ ...base.tensors[0], sum, first: [0.41538172960281] }] };
    expect(() => buildWeightManifest(badFirst, 'm.json')).toThrow(/entry 0 'w': value 0 is 0\.4153817296028137 but the manifest records 0\.41538172960281/);
    expect(buildWeightManifest(base, 'm.json', { verify: false }).size).toBe(1);
    const alias = { tensors: [{ key: 'a', shape: [1], dtype: 'F32', alias_of: 'nope' }] };
    expect(() => buildWeightManifest(alias, 'm.json')).toThrow(/entry 0 'a': alias_of 'nope' is not a generated entry/);
    const dtype = { tensors: [{ key: 'x', shape: [1], dtype: 'C64', init: 'const', value: 0 }] };
    expect(() => buildWeightManifest(dtype, 'm.json')).toThrow(/entry 0 'x': unsupported dtype "C64"/);
    expect(() => buildWeightManifest({}, 'm.json')).toThrow(/'m\.json': missing the 'tensors' list/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detr-manifest-'));
    try {
      fs.writeFileSync(path.join(dir, 'broken.weights.json'), '{"tensors": [');
      expect(() => loadWeightManifest(path.join(dir, 'broken.weights.json'))).toThrow(/Invalid JSON in weight manifest file '.*broken\.weights\.json'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
