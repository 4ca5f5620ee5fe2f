/**
 * PositionEmbeddingSine and get_sine_pos_embed against fixtures/parity/pos_embed.safetensors (README
 * section 8) on the wasm backend: the fixture comparisons of position_embedding.test.ts (cpu), written
 * here against the public API and the fixture. With offset -0.5, fully padded rows / columns are float32
 * noise in PyTorch too (README section 8), so that case is compared at valid positions only.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadroomLog, RTOL, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend } from '@detr/core/testing';
import { PositionEmbeddingSine, getSinePosEmbed } from '../src/index';
import { SINE_EMBED_CASES } from './pos_embed_fixture';

const FILE = 'pos_embed';
const log = new HeadroomLog(FILE, 'wasm');

beforeAll(async () => {
  await useTestBackend('wasm');
});

afterAll(() => reportHeadroom(log));

describe('PositionEmbeddingSine (pos_embed pos/*), wasm backend', () => {
  const cases = loadFixture(FILE).config.pos_cases as Record<string, { num_pos_feats: number; temperature: number; normalize: boolean; offset: number }>;

  for (const [name, c] of Object.entries(cases)) {
    it(`matches pos/${name}`, () => {
      expect(tf.getBackend()).toBe('wasm');
      const mask = tf.tidy(() => fixtureTensor(FILE, 'mask').cast('bool') as tf.Tensor3D); // [B,H,W], 1 = padding
      const module = new PositionEmbeddingSine({ num_pos_feats: c.num_pos_feats, temperature: c.temperature, normalize: c.normalize, offset: c.offset });
      const nchw = tf.tidy(() => module.forward(mask).transpose([0, 3, 1, 2])); // [B,2F,H,W] as torch
      const ref = fixtureRaw(FILE, `pos/${name}`);
      expect(nchw.shape).toEqual(ref.shape);
      if (c.offset !== 0) {
        const [b, ch, h, w] = nchw.shape;
        const m = mask.dataSync();
        const ours = nchw.dataSync();
        const refData = ref.data as Float32Array;
        const a: number[] = [];
        const r: number[] = [];
        for (let i = 0; i < b * ch * h * w; i++) {
          const bi = Math.floor(i / (ch * h * w));
          if (!m[bi * h * w + (i % (h * w))]) {
            a.push(ours[i]);
            r.push(refData[i]);
          }
        }
        expect(a.length).toBeGreaterThan(0);
        log.close(a, r, RTOL.activation, `pos/${name} (valid positions)`);
      } else {
        log.close(nchw, ref, RTOL.activation, `pos/${name}`);
      }
      tf.dispose([mask, nchw]);
    });
  }
});

describe('get_sine_pos_embed (pos_embed sine/*), wasm backend', () => {
  for (const [out, input, opts] of SINE_EMBED_CASES) {
    it(`matches ${out}`, () => {
      const pos = fixtureTensor(FILE, input);
      const emb = getSinePosEmbed(pos, opts);
      log.close(emb, fixtureRaw(FILE, out), RTOL.activation, out);
      tf.dispose([pos, emb]);
    });
  }
});
