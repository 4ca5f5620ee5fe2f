/**
 * DINO's contrastive denoising queries (detrex `projects/dino/modeling/dino.py::DINO.prepare_for_cdn`).
 *
 * dn_number is doubled (positive + negative); groups G = max(1, floor(2*dn_number / (2*n_max))) with
 * n_max the largest GT count of the batch. Each group holds 2*n_max slots: n_max positives, then n_max
 * negatives; image b's GTs fill slots [0, n_b) of each half, the rest is padding (zero content, zero box
 * logit). Labels are replaced by a random class with probability label_noise_ratio / 2; boxes (xyxy)
 * move by sign * part * (w/2, h/2, w/2, h/2) * box_noise_scale with part ~ U[0,1) for positives and
 * U[1,2) for negatives, clamped to [0,1]. The box queries are inverse_sigmoid(noised cxcywh), the content
 * queries label_enc(noised label). The self-attention mask (true = blocked) keeps the matching queries
 * from seeing any DN query and every DN group from seeing the others.
 *
 * Randomness comes from the given seeded Rng, drawn in this order: one uniform per DN row (label noise
 * decision), one class per noised row, 4 signs per row, 4 parts per row (rows ordered group-major as
 * detrex's `repeat`). PyTorch's stream cannot be replayed; the statistics are the same.
 */
import * as tf from '@tensorflow/tfjs';
import { inverseSigmoid, type Embedding, type Rng } from '@detr/core';

export interface DenoisingTarget {
  /** Class indices 0..C-1. */
  labels: Int32Array;
  /** n*4 normalised cxcywh. */
  boxes: Float32Array;
}

export interface DnMeta {
  /** Slots per group (2 * n_max). */
  single_padding: number;
  /** Number of groups. */
  dn_num: number;
}

export interface CdnQueries {
  /** [B, pad, C] content queries (zeros at padding slots). */
  input_query_label: tf.Tensor;
  /** [B, pad, 4] box queries as logits (zeros at padding slots). */
  input_query_bbox: tf.Tensor;
  /** [pad + num_queries, pad + num_queries] bool, true = blocked. */
  attn_mask: tf.Tensor2D;
  dn_meta: DnMeta;
}

export interface CdnOptions {
  targets: DenoisingTarget[];
  dn_number: number;
  label_noise_ratio: number;
  box_noise_scale: number;
  num_queries: number;
  num_classes: number;
  label_enc: Embedding;
  rng: Rng;
}

/** The CDN queries for a batch, or null when dn_number <= 0 or no image has a GT (as detrex). */
export function prepareForCdn(opts: CdnOptions): CdnQueries | null {
  const { targets, label_noise_ratio: labelNoise, box_noise_scale: boxNoise, num_queries: numQueries, num_classes: numClasses, rng } = opts;
  if (opts.dn_number <= 0) return null;
  targets.forEach((t, i) => {
    if (t.boxes.length !== t.labels.length * 4) throw new Error(`prepareForCdn: target ${i} has ${t.labels.length} labels but ${t.boxes.length / 4} boxes`);
    t.labels.forEach((c, j) => {
      if (!(c >= 0 && c < numClasses)) throw new Error(`prepareForCdn: target ${i} label ${j} is ${c}, outside 0..${numClasses - 1}`);
    });
  });
  const counts = targets.map((t) => t.labels.length);
  const nMax = Math.max(0, ...counts);
  if (nMax === 0) return null;
  const dnNumber = opts.dn_number * 2;
  const groups = Math.max(1, Math.floor(dnNumber / (nMax * 2)));
  const b = targets.length;
  const total = counts.reduce((a, c) => a + c, 0); // T GTs in the batch
  const rows = 2 * groups * total; // block 2g = positives of group g, 2g+1 = negatives (each T rows, batch order)
  const singlePadding = 2 * nMax;
  const padSize = singlePadding * groups;

  // Concatenated GTs of the batch, with their image and index within the image.
  const labels = new Int32Array(total);
  const boxes = new Float32Array(total * 4);
  const image = new Int32Array(total);
  const within = new Int32Array(total);
  let t = 0;
  targets.forEach((tg, bi) => {
    for (let j = 0; j < tg.labels.length; j++, t++) {
      labels[t] = tg.labels[j];
      boxes.set(tg.boxes.subarray(4 * j, 4 * j + 4), 4 * t);
      image[t] = bi;
      within[t] = j;
    }
  });

  // Label noise.
  const noisedLabels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) noisedLabels[r] = labels[r % total];
  if (labelNoise > 0) {
    const chosen: number[] = [];
    for (let r = 0; r < rows; r++) if (rng.random() < labelNoise * 0.5) chosen.push(r);
    for (const r of chosen) noisedLabels[r] = rng.int(0, numClasses);
  }

  // Box noise in xyxy.
  const noisedBoxes = new Float32Array(rows * 4);
  for (let r = 0; r < rows; r++) noisedBoxes.set(boxes.subarray(4 * (r % total), 4 * (r % total) + 4), 4 * r);
  if (boxNoise > 0) {
    const signs = new Float32Array(rows * 4);
    for (let i = 0; i < signs.length; i++) signs[i] = rng.int(0, 2) * 2 - 1;
    const parts = new Float32Array(rows * 4);
    for (let i = 0; i < parts.length; i++) parts[i] = rng.random();
    for (let r = 0; r < rows; r++) {
      const negative = Math.floor(r / total) % 2 === 1;
      const [cx, cy, w, h] = noisedBoxes.subarray(4 * r, 4 * r + 4);
      const xyxy = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
      const diff = [w / 2, h / 2, w / 2, h / 2];
      for (let k = 0; k < 4; k++) {
        const part = (parts[4 * r + k] + (negative ? 1 : 0)) * signs[4 * r + k];
        xyxy[k] = Math.min(1, Math.max(0, xyxy[k] + part * diff[k] * boxNoise));
      }
      noisedBoxes.set([(xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2, xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]], 4 * r);
    }
  }

  // Place row r at slot within + single_padding/2 * block of its image (detrex map_known_indice).
  const slotLabel = new Int32Array(b * padSize);
  const slotValid = new Float32Array(b * padSize);
  const slotBox = new Float32Array(b * padSize * 4);
  for (let r = 0; r < rows; r++) {
    const g = r % total;
    const block = Math.floor(r / total);
    const slot = image[g] * padSize + nMax * block + within[g];
    slotLabel[slot] = noisedLabels[r];
    slotValid[slot] = 1;
    slotBox.set(noisedBoxes.subarray(4 * r, 4 * r + 4), 4 * slot);
  }

  const tgtSize = padSize + numQueries;
  const blocked = new Uint8Array(tgtSize * tgtSize);
  for (let i = padSize; i < tgtSize; i++) blocked.fill(1, i * tgtSize, i * tgtSize + padSize); // matching queries cannot see DN
  for (let g = 0; g < groups; g++) {
    for (let i = singlePadding * g; i < singlePadding * (g + 1); i++) {
      blocked.fill(1, i * tgtSize, i * tgtSize + singlePadding * g); // earlier groups
      blocked.fill(1, i * tgtSize + singlePadding * (g + 1), i * tgtSize + padSize); // later groups
    }
  }

  return tf.tidy(() => {
    const valid = tf.tensor(slotValid, [b, padSize, 1]);
    const content = opts.label_enc.forward(tf.tensor(slotLabel, [b, padSize], 'int32')).mul(valid); // [B,pad,C]
    const boxLogits = inverseSigmoid(tf.tensor(slotBox, [b, padSize, 4])).mul(valid); // [B,pad,4]
    return {
      input_query_label: content,
      input_query_bbox: boxLogits,
      attn_mask: tf.tensor(blocked, [tgtSize, tgtSize], 'bool') as tf.Tensor2D,
      dn_meta: { single_padding: singlePadding, dn_num: groups },
    };
  });
}
