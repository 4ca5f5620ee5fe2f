import { describe, expect, it } from 'vitest';
import { denoisingMatches, repeatTargets, splitTargets } from '../src/index';

describe('denoising assignment and H-DETR target repetition', () => {
  it('DN pairs are (g*single_padding + j, j), group-major, for each image', () => {
    const targets = splitTargets([3, 0, 1], [1, 2, 0, 4], new Float32Array(16).fill(0.5));
    const m = denoisingMatches(targets, { dn_num: 2, single_padding: 6 });
    expect(Array.from(m[0].src)).toEqual([0, 1, 2, 6, 7, 8]);
    expect(Array.from(m[0].tgt)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(m[1].src.length).toBe(0);
    expect(Array.from(m[2].src)).toEqual([0, 6]);
    expect(Array.from(m[2].tgt)).toEqual([0, 0]);
    expect(() => denoisingMatches(targets, { dn_num: 2, single_padding: 2 })).toThrow(/image 0 has 3 GT boxes but dn_meta.single_padding is 2/);
  });

  it('repeatTargets tiles labels and boxes k times (torch .repeat)', () => {
    const [t] = repeatTargets(splitTargets([2], [3, 5], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), 3);
    expect(Array.from(t.labels)).toEqual([3, 5, 3, 5, 3, 5]);
    expect(Array.from(t.boxes.subarray(8, 12))).toEqual(Array.from(Float32Array.from([0.1, 0.2, 0.3, 0.4])));
    expect(() => repeatTargets([t], 0)).toThrow(/k_one2many must be an integer >= 1/);
  });

  it('splitTargets checks that the sizes add up', () => {
    expect(() => splitTargets([2, 1], [0, 1], new Float32Array(8))).toThrow(/sizes add up to 3 but there are 2 labels/);
  });
});
