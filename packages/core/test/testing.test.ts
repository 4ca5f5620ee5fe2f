// @detr/core/testing: the fixture helpers and the README section 2 comparison rule.
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RTOL, expectClose, expectExact, fixturePath, fixtureTensor, loadFixture, repoRoot } from '../src/testing';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fixture helpers', () => {
  it('repoRoot holds nx.json; fixturePath points into the repository copy of the fixtures', () => {
    expect(fs.existsSync(path.join(repoRoot(), 'nx.json'))).toBe(true);
    expect(fixturePath('box_ops.safetensors')).toBe(path.join(repoRoot(), 'fixtures', 'parity', 'box_ops.safetensors'));
  });

  it('loadFixture parses __metadata__.config, caches, and accepts the name without suffix', () => {
    const f = loadFixture('box_ops.safetensors');
    expect(f.config.n1).toBe(12); // README section 4: boxes1 is [12, 4]
    expect(f.config.n2).toBe(9);
    expect(f.metadata.fixture).toBe('box_ops');
    expect(f.tensors.get('boxes1_cxcywh')!.shape).toEqual([12, 4]);
    expect(loadFixture('box_ops')).toBe(f);
    expect(loadFixture('resnet50_tv_head').config).toBeNull(); // no config in that file
    expect(() => loadFixture('nope')).toThrow(/no fixture 'nope\.safetensors'/);
  });

  it('fixtureTensor gives float32 / int32 tensors and names missing keys', () => {
    const t = fixtureTensor('align_ia_bce.safetensors', 'tgt_sizes');
    expect(t.dtype).toBe('int32');
    expect(Array.from(t.dataSync())).toEqual([3, 0, 6, 2]); // README section 6
    t.dispose();
    expect(() => fixtureTensor('box_ops.safetensors', 'iou_typo')).toThrow(/fixture 'box_ops\.safetensors' has no tensor 'iou_typo'; some that exist: .*iou/);
  });

  it('RTOL holds the README values', () => {
    expect(RTOL).toEqual({ activation: 1e-5, loss: 1e-4, grad: 1e-4 });
  });
});

describe('expectClose', () => {
  // r = [1, -2, 4], rtol 1e-3: allowed_i = 1e-3 * |r_i| + 1e-3 * 4.
  const ref = Float64Array.from([1, -2, 4]);

  it('accepts errors up to the bound and rejects beyond it, naming label, index, values and bound', () => {
    expect(expectClose(Float64Array.from([1 + 0.00499, -2 - 0.00599, 4 + 0.00799]), ref, 1e-3, 'x')).toBeLessThanOrEqual(1);
    expect(() => expectClose(Float64Array.from([1 + 0.00501, -2, 4]), ref, 1e-3, 'logits')).toThrow(
      /^logits: 1 of 3 elements .*rtol 0\.001, max\|r\| 4\.00000000\); worst at index 0: actual 1\.00501000, reference 1\.00000000, \|a - r\| 0\.00501000.* > allowed 0\.00500000000/,
    );
    // The scale-aware floor: an element near 0 may be off by rtol * max|r| over the tensor.
    expectClose([0.099, 100], [0, 100], 1e-3, 'floor');
    expect(() => expectClose([0.101, 100], [0, 100], 1e-3, 'floor')).toThrow(/floor: 1 of 2 .*index 0/);
    expect(() => expectClose([1e-30], [0], 1e-3, 'zeros')).toThrow(/zeros: 1 of 1/); // all-zero reference: exact only
  });

  it('reports the worst element with its multi-index and checks shapes', () => {
    const actual = tf.tensor([[0, 0, 0], [0, 0, 9]]);
    const reference = tf.tensor([[0, 0, 0], [0, 0, 1]]);
    expect(() => expectClose(actual, reference, 1e-5, 'feat')).toThrow(/feat: 1 of 6 elements .* index 5 \[1, 2\]: actual 9\.00000000, reference 1\.00000000/);
    const wrongShape = tf.zeros([3, 2]);
    expect(() => expectClose(wrongShape, reference, 1e-5, 'feat')).toThrow(/feat: shape \[3, 2\] differs from the reference shape \[2, 3\]/);
    expect(() => expectClose([1, 2], [1, 2, 3], 1e-5, 'len')).toThrow(/len: 2 elements but the reference has 3/);
    tf.dispose([actual, reference, wrongShape]);
  });

  it('compares against RawTensor references (incl. int64) and fails on NaN', () => {
    const raw = loadFixture('box_ops').tensors.get('iou')!;
    const t = fixtureTensor('box_ops', 'iou');
    expect(expectClose(t, raw, RTOL.activation, 'iou')).toBe(0);
    const shifted = t.add(1e-3);
    expect(() => expectClose(shifted, raw, RTOL.activation, 'iou+1e-3')).toThrow(/iou\+1e-3: 108 of 108 elements/);
    expect(() => expectClose([NaN, 1], [0, 1], 1e-5, 'nan')).toThrow(/nan: 1 of 2 .*actual NaN/);
    expectClose([3, 0], { dtype: 'int64', shape: [2], data: BigInt64Array.from([3n, 0n]) }, 0, 'sizes');
    expectClose([1.5, -2], { dtype: 'float16', shape: [2], data: Uint16Array.from([0x3e00, 0xc000]) }, 0, 'half'); // decoded, not bits
    tf.dispose([t, shifted]);
  });
});

describe('expectExact', () => {
  it('compares int tensors with int64 references and names the first difference', () => {
    const t = tf.tensor([3, 0, 6, 2], [4], 'int32');
    expectExact(t, loadFixture('align_ia_bce').tensors.get('tgt_sizes')!, 'tgt_sizes');
    const off = tf.tensor([3, 0, 5, 2], [4], 'int32');
    expect(() => expectExact(off, loadFixture('align_ia_bce').tensors.get('tgt_sizes')!, 'sizes')).toThrow(/sizes: 1 of 4 elements differ; first at index 2: actual 5, reference 6/);
    expect(() => expectExact([1, 2], tf.tensor([[1, 2]]), 'shape')).not.toThrow(); // plain arrays carry no shape
    expect(() => expectExact(tf.tensor([1, 2]), tf.tensor([[1, 2]]), 'shape')).toThrow(/shape: shape \[2\] differs from the reference shape \[1, 2\]/);
    expect(() => expectExact([2 ** 53 + 2], BigInt64Array.from([2n ** 53n + 1n]), 'big')).toThrow(/big: 1 of 1/);
    tf.dispose([t, off]);
  });
});
