// DINO's contrastive denoising queries: group count, slot layout, the attention mask (against a literal
// transcription of detrex's loop), noise bounds for positives / negatives, label-noise rate, seeding.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Embedding, Rng } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { prepareForCdn, type DenoisingTarget } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const targets: DenoisingTarget[] = [
  { labels: Int32Array.from([1, 4, 2]), boxes: Float32Array.from([0.5, 0.5, 0.2, 0.3, 0.3, 0.6, 0.1, 0.1, 0.7, 0.4, 0.3, 0.2]) },
  { labels: Int32Array.from([3]), boxes: Float32Array.from([0.4, 0.45, 0.5, 0.4]) },
];

/** detrex `prepare_for_cdn`'s mask loop, transcribed literally (with its redundant branches). */
function detrexMask(padSize: number, numQueries: number, singlePadding: number, dnNumber: number): Uint8Array {
  const n = padSize + numQueries;
  const m = new Uint8Array(n * n);
  const set = (r0: number, r1: number, c0: number, c1: number) => {
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) m[r * n + c] = 1;
  };
  set(padSize, n, 0, padSize);
  for (let i = 0; i < dnNumber; i++) {
    if (i === 0) set(singlePadding * 2 * i, singlePadding * 2 * (i + 1), singlePadding * 2 * (i + 1), padSize);
    if (i === dnNumber - 1) set(singlePadding * 2 * i, singlePadding * 2 * (i + 1), 0, singlePadding * i * 2);
    else {
      set(singlePadding * 2 * i, singlePadding * 2 * (i + 1), singlePadding * 2 * (i + 1), padSize);
      set(singlePadding * 2 * i, singlePadding * 2 * (i + 1), 0, singlePadding * 2 * i);
    }
  }
  return m;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('prepareForCdn', () => {
  it('groups, slot layout and content without noise; mask equals detrex loop', () => {
    const labelEnc = new Embedding(5, 8);
    const cdn = prepareForCdn({ targets, dn_number: 10, label_noise_ratio: 0, box_noise_scale: 0, num_queries: 7, num_classes: 5, label_enc: labelEnc, rng: new Rng(1) })!;
    // 2*10 // (2*3) = 3 groups of 2*3 slots.
    expect(cdn.dn_meta).toEqual({ single_padding: 6, dn_num: 3 });
    expect(cdn.input_query_label.shape).toEqual([2, 18, 8]);
    expect(cdn.input_query_bbox.shape).toEqual([2, 18, 4]);
    expect(cdn.attn_mask.shape).toEqual([25, 25]);
    expect(Array.from(cdn.attn_mask.dataSync())).toEqual(Array.from(detrexMask(18, 7, 3, 3)));

    const emb = labelEnc.weight.arraySync() as number[][];
    const content = cdn.input_query_label.arraySync() as number[][][];
    const boxes = cdn.input_query_bbox.arraySync() as number[][][];
    targets.forEach((t, b) => {
      for (let slot = 0; slot < 18; slot++) {
        const j = slot % 3; // index within the image in each half-group
        if (j < t.labels.length) {
          expectClose(content[b][slot], emb[t.labels[j]], RTOL.activation, `content b${b} slot ${slot}`);
          expectClose(boxes[b][slot].map(sigmoid), Array.from(t.boxes.subarray(4 * j, 4 * j + 4)), 1e-5, `box b${b} slot ${slot}`);
        } else {
          expect(content[b][slot].every((v) => v === 0)).toBe(true);
          expect(boxes[b][slot].every((v) => v === 0)).toBe(true);
        }
      }
    });
    labelEnc.dispose();
  });

  it('box noise: positives move less than (w/2, h/2) per xyxy side, negatives between 1x and 2x', () => {
    const labelEnc = new Embedding(5, 4);
    const cdn = prepareForCdn({ targets, dn_number: 10, label_noise_ratio: 0, box_noise_scale: 1, num_queries: 2, num_classes: 5, label_enc: labelEnc, rng: new Rng(7) })!;
    const boxes = cdn.input_query_bbox.arraySync() as number[][][];
    let moved = 0;
    targets.forEach((t, b) => {
      for (let slot = 0; slot < 18; slot++) {
        const j = slot % 3;
        if (j >= t.labels.length) continue;
        const negative = Math.floor(slot / 3) % 2 === 1;
        const [cx, cy, w, h] = t.boxes.subarray(4 * j, 4 * j + 4);
        const gt = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
        const [ncx, ncy, nw, nh] = boxes[b][slot].map(sigmoid);
        // A negative can flip a side (w or h < 0); inverse_sigmoid then clamps the size at eps 1e-3 and the
        // xyxy cannot be recovered from the logits: skip those.
        if (nw < 2e-3 || nh < 2e-3) continue;
        const noised = [ncx - nw / 2, ncy - nh / 2, ncx + nw / 2, ncy + nh / 2];
        const diff = [w / 2, h / 2, w / 2, h / 2];
        noised.forEach((v, k) => {
          const d = Math.abs(v - gt[k]);
          const clamped = v < 2e-3 || v > 1 - 2e-3;
          if (!clamped) {
            if (negative) expect(d).toBeGreaterThanOrEqual(diff[k] - 1e-5);
            expect(d).toBeLessThan((negative ? 2 : 1) * diff[k] + 1e-5);
          }
          if (d > 1e-4) moved++;
        });
      }
    });
    expect(moved).toBeGreaterThan(40);
    labelEnc.dispose();
  });

  it('label noise replaces about label_noise_ratio / 2 of the labels; seeded and reproducible', () => {
    const many: DenoisingTarget[] = [0, 1].map(() => ({ labels: new Int32Array(50).fill(2), boxes: new Float32Array(200).fill(0.5) }));
    const labelEnc = new Embedding(5, 4);
    const run = (seed: number) => prepareForCdn({ targets: many, dn_number: 100, label_noise_ratio: 1.0, box_noise_scale: 0, num_queries: 1, num_classes: 5, label_enc: labelEnc, rng: new Rng(seed) })!;
    const a = run(3);
    expect(a.dn_meta).toEqual({ single_padding: 100, dn_num: 2 });
    const emb2 = (labelEnc.weight.arraySync() as number[][])[2];
    const rows = (a.input_query_label.arraySync() as number[][][]).flat();
    const changed = rows.filter((r) => r.some((v, i) => Math.abs(v - emb2[i]) > 1e-6)).length / rows.length;
    // P(change) = 0.5 * 4/5 = 0.4 over 400 rows (sd ~ 0.025).
    expect(changed).toBeGreaterThan(0.3);
    expect(changed).toBeLessThan(0.5);
    const b = run(3);
    const c = run(4);
    expectClose(b.input_query_label, a.input_query_label, 0, 'same seed');
    expect(c.input_query_label.sub(a.input_query_label).abs().max().dataSync()[0]).toBeGreaterThan(0);
    labelEnc.dispose();
  });

  it('returns null without GTs or with dn_number 0, and rejects bad targets', () => {
    const labelEnc = new Embedding(5, 4);
    const base = { label_noise_ratio: 0.5, box_noise_scale: 1, num_queries: 3, num_classes: 5, label_enc: labelEnc, rng: new Rng(0) };
    expect(prepareForCdn({ ...base, targets: [{ labels: new Int32Array(0), boxes: new Float32Array(0) }], dn_number: 10 })).toBeNull();
    expect(prepareForCdn({ ...base, targets, dn_number: 0 })).toBeNull();
    expect(() => prepareForCdn({ ...base, targets: [{ labels: Int32Array.from([7]), boxes: new Float32Array(4) }], dn_number: 10 })).toThrow(/label 0 is 7, outside 0..4/);
    expect(() => prepareForCdn({ ...base, targets: [{ labels: Int32Array.from([1]), boxes: new Float32Array(8) }], dn_number: 10 })).toThrow(/1 labels but 2 boxes/);
    labelEnc.dispose();
  });
});
