// PositionEmbeddingSine and get_sine_pos_embed against fixtures/parity/pos_embed.safetensors
// (README section 8), plus mask down-sampling and valid ratios against hand-computed values.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose, fixtureRaw, fixtureTensor, loadFixture } from '@detr/core/testing';
import { PositionEmbeddingSine, getSinePosEmbed, getValidRatio, interpolateMaskNearest, nearestSourceIndex } from '../src/index';
import { SINE_EMBED_CASES } from './pos_embed_fixture';

const FILE = 'pos_embed';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Values of x at the flat positions where keep[i] is true. */
function pick(values: ArrayLike<number>, keep: boolean[]): number[] {
  const out: number[] = [];
  keep.forEach((k, i) => k && out.push(values[i]));
  return out;
}

describe('PositionEmbeddingSine (pos_embed fixture)', () => {
  const cases = loadFixture(FILE).config.pos_cases as Record<string, { num_pos_feats: number; temperature: number; normalize: boolean; offset: number }>;

  for (const [name, c] of Object.entries(cases)) {
    it(`matches pos/${name}`, () => {
      const mask = fixtureTensor(FILE, 'mask').cast('bool') as tf.Tensor3D; // [B,H,W], 1 = padding
      const module = new PositionEmbeddingSine({ num_pos_feats: c.num_pos_feats, temperature: c.temperature, normalize: c.normalize, offset: c.offset });
      const nchw = tf.tidy(() => module.forward(mask).transpose([0, 3, 1, 2])); // [B,2F,H,W] as torch
      const ref = fixtureRaw(FILE, `pos/${name}`);
      expect(nchw.shape).toEqual(ref.shape);
      if (c.offset !== 0) {
        // README section 8: with offset -0.5 fully padded rows / columns are float32 noise; compare valid positions.
        const [b, ch, h, w] = nchw.shape;
        const m = mask.dataSync();
        const keep = Array.from({ length: b * ch * h * w }, (_, i) => {
          const bi = Math.floor(i / (ch * h * w));
          const yx = i % (h * w);
          return !m[bi * h * w + yx];
        });
        expect(keep.filter(Boolean).length).toBeGreaterThan(0);
        expectClose(pick(nchw.dataSync(), keep), pick(ref.data as Float32Array, keep), RTOL.activation, `pos/${name} (valid positions)`);
      } else {
        expectClose(nchw, ref, RTOL.activation, `pos/${name}`);
      }
      tf.dispose([mask, nchw]);
    });
  }

  it('rejects a mask that is not [B,H,W] and an odd num_pos_feats', () => {
    const bad = tf.zeros([2, 3], 'bool') as unknown as tf.Tensor3D;
    expect(() => new PositionEmbeddingSine({ num_pos_feats: 16 }).forward(bad)).toThrow(/mask must be \[B,H,W\]/);
    expect(() => new PositionEmbeddingSine({ num_pos_feats: 15 })).toThrow(/num_pos_feats/);
    bad.dispose();
  });
});

describe('get_sine_pos_embed (pos_embed fixture)', () => {
  for (const [out, input, opts] of SINE_EMBED_CASES) {
    it(`matches ${out}`, () => {
      const pos = fixtureTensor(FILE, input);
      const emb = getSinePosEmbed(pos, opts);
      expectClose(emb, fixtureRaw(FILE, out), RTOL.activation, out);
      tf.dispose([pos, emb]);
    });
  }
});

describe('mask down-sampling and valid ratios', () => {
  it('follows PyTorch nearest indices: floor(i * float32(in/out)), 2x upsampling i >> 1', () => {
    // 64 -> 8: every 8th row; 7 -> 3: scale 2.3333333 -> 0, 2, 4; 3 -> 6: 0,0,1,1,2,2; 5 -> 2: 0, 2.
    expect(Array.from({ length: 8 }, (_, i) => nearestSourceIndex(i, 64, 8))).toEqual([0, 8, 16, 24, 32, 40, 48, 56]);
    expect([0, 1, 2].map((i) => nearestSourceIndex(i, 7, 3))).toEqual([0, 2, 4]);
    expect([0, 1, 2, 3, 4, 5].map((i) => nearestSourceIndex(i, 3, 6))).toEqual([0, 0, 1, 1, 2, 2]);
    expect([0, 1].map((i) => nearestSourceIndex(i, 5, 2))).toEqual([0, 2]);
  });

  it('down-samples a bottom/right padded mask and gives (valid_w/W, valid_h/H)', () => {
    // Image 0 fully valid 64x96; image 1 valid 48x80 (rows >= 48 or cols >= 80 padded).
    const m = tf.tidy(() => {
      const rows = tf.range(0, 64).reshape([64, 1]);
      const cols = tf.range(0, 96).reshape([1, 96]);
      const pad1 = tf.logicalOr(rows.greaterEqual(48), cols.greaterEqual(80));
      return tf.stack([tf.zeros([64, 96], 'bool'), pad1]) as tf.Tensor3D;
    });
    const small = interpolateMaskNearest(m, [8, 12]); // stride 8: rows 0,8,..,56 ; cols 0,8,..,88
    const s = small.dataSync();
    // image 1: rows 0..5 (0..40) valid, 6,7 (48, 56) padded; cols 0..9 (0..72) valid, 10, 11 padded.
    for (let y = 0; y < 8; y++) for (let x = 0; x < 12; x++) {
      expect(s[96 + y * 12 + x]).toBe(y >= 6 || x >= 10 ? 1 : 0);
      expect(s[y * 12 + x]).toBe(0);
    }
    const ratios = getValidRatio(small);
    expectClose(ratios, [1, 1, 10 / 12, 6 / 8], 1e-7, 'valid ratios');
    tf.dispose([m, small, ratios]);
  });
});
