import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resizePixels } from '../src/index';

// Pillow 9.4 `Image.resize(size, BILINEAR)` outputs, made by fixtures/make_pil_resize.py.
interface PilCase { in_h: number; in_w: number; out_h: number; out_w: number; input_b64: string; output_b64: string }
const fixture = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'pil_resize.json'), 'utf8')) as { cases: PilCase[] };
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

describe('resizePixels (Pillow bilinear)', () => {
  it.each(fixture.cases.map((c) => [`${c.in_h}x${c.in_w} -> ${c.out_h}x${c.out_w}`, c] as const))('uint8 matches Pillow bit for bit: %s', (_, c) => {
    const out = resizePixels(bytes(c.input_b64), c.in_h, c.in_w, 3, c.out_h, c.out_w);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(Array.from(out)).toEqual(Array.from(bytes(c.output_b64)));
  });

  it('float input follows the same filter without rounding (within 1 level of Pillow)', () => {
    for (const c of fixture.cases) {
      const input = Float32Array.from(bytes(c.input_b64));
      const ref = bytes(c.output_b64);
      const out = resizePixels(input, c.in_h, c.in_w, 3, c.out_h, c.out_w);
      expect(out).toBeInstanceOf(Float32Array);
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out[i] - ref[i]));
      expect(maxDiff).toBeLessThanOrEqual(1);
    }
  });

  it('halving averages 4 taps with weights 1,3,3,1 (antialiased, not sampled)', () => {
    // one channel, one row of 8 -> 4: output k covers inputs 2k-1..2k+2 with triangle weights (1,3,3,1)/8,
    // renormalised at the borders (derived by hand from Pillow's precompute_coeffs with scale 2).
    const row = Float32Array.from([0, 8, 16, 24, 32, 40, 48, 56]);
    const out = resizePixels(row, 1, 8, 1, 1, 4);
    const expected = [
      (3 * 0 + 3 * 8 + 1 * 16) / 7,
      (1 * 8 + 3 * 16 + 3 * 24 + 1 * 32) / 8,
      (1 * 24 + 3 * 32 + 3 * 40 + 1 * 48) / 8,
      (1 * 40 + 3 * 48 + 3 * 56) / 7,
    ];
    expected.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
  });

  it('rejects bad sizes with a clear error', () => {
    expect(() => resizePixels(new Uint8Array(12), 2, 2, 3, 0, 4)).toThrow(/positive integers/);
    expect(() => resizePixels(new Uint8Array(11), 2, 2, 3, 4, 4)).toThrow(/11 values/);
  });
});
