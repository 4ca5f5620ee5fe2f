/**
 * Speed of the matching and the Align-DETR criterion at DINO sizes (900 queries, 80 classes).
 *
 *   npx tsx bench/matcher.ts [--rounds 7] [--backend wasm|cpu] [--threads N]
 *
 * The backend is set up as training sets it up (selectBackend: wasm threads, fast kernels); --threads
 * defaults to env DETR_WASM_THREADS, else every core.
 *
 * Measured, median ms over rounds (after one warm-up), all in one process:
 *  1. the CPU cost block [900, n] of one image (match_cost.ts: focal class cost per distinct label,
 *     L1 and GIoU per pair), against a same-process baseline that builds the same [B*900, T] matrix
 *     with tf ops on the chosen backend and pulls it with dataSync (what detrex does on the GPU);
 *  2. HungarianMatcher and MixedMatcher (k = 2, tiled 900 x 2n) on a batch of 2, cost + assignment;
 *  3. AlignDETRCriterion forward, and forward + backward (tf.grads w.r.t. every output tensor), for
 *     6 decoder layers + encoder + 6 DN layers (dn_number 100 -> 100 // n_max groups), on the backend.
 * GT counts per image: 7 (COCO's mean) and 100 (the worst case the cost matrix must handle).
 */
import * as tf from '@tensorflow/tfjs';
import { boxCxcywhToXyxy, generalizedBoxIou, selectBackend } from '../packages/core/src/index';
import { HungarianMatcher, MixedMatcher, matchCostBlock, readPredictions, type DetectionTarget } from '../packages/matchers/src/index';
import { AlignDETRCriterion, expandWeightDict, sumLosses, type DetectorOutputs } from '../packages/criteria/src/index';

function argValue(flag: string, fallback: string): string {
  const k = process.argv.indexOf(flag);
  return k >= 0 ? process.argv[k + 1] : fallback;
}
const ROUNDS = Number(argValue('--rounds', '7'));
const BACKEND = argValue('--backend', 'wasm');
const THREADS = process.argv.includes('--threads') ? Number(argValue('--threads', '1')) : undefined;
const Q = 900, C = 80, B = 2;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => void): number {
  fn(); // warm-up
  const ms: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function makeTargets(rand: () => number, counts: number[]): DetectionTarget[] {
  return counts.map((n) => ({
    labels: Int32Array.from({ length: n }, () => Math.floor(rand() * C)),
    boxes: Float32Array.from({ length: 4 * n }, (_, i) => (i % 4 < 2 ? 0.2 + 0.6 * rand() : 0.05 + 0.3 * rand())),
  }));
}

function makeOutput(rand: () => number, queries: number): { pred_logits: tf.Tensor3D; pred_boxes: tf.Tensor3D } {
  return {
    pred_logits: tf.tensor3d(Float32Array.from({ length: B * queries * C }, () => -4.6 + 3 * (rand() - 0.5)), [B, queries, C]),
    pred_boxes: tf.tensor3d(Float32Array.from({ length: B * queries * 4 }, (_, i) => (i % 4 < 2 ? rand() : 0.02 + 0.3 * rand())), [B, queries, 4]),
  };
}

/** detrex's batched cost on tensors ([B*Q, T]), pulled with dataSync: the baseline for matchCostBlock. */
function tfCostMatrix(out: { pred_logits: tf.Tensor; pred_boxes: tf.Tensor }, targets: DetectionTarget[]): Float32Array {
  return tf.tidy(() => {
    const labels = tf.tensor1d(Int32Array.from(targets.flatMap((t) => Array.from(t.labels))), 'int32');
    const tgtBoxes = tf.tensor2d(Float32Array.from(targets.flatMap((t) => Array.from(t.boxes))), [labels.shape[0], 4]);
    const prob = tf.sigmoid(tf.reshape(out.pred_logits, [-1, C]));
    const neg = tf.mul(tf.mul(0.75, tf.square(prob)), tf.neg(tf.log(tf.add(tf.sub(1, prob), 1e-8))));
    const pos = tf.mul(tf.mul(0.25, tf.square(tf.sub(1, prob))), tf.neg(tf.log(tf.add(prob, 1e-8))));
    const costClass = tf.gather(tf.sub(pos, neg), labels, 1);
    const boxes = tf.reshape(out.pred_boxes, [-1, 4]);
    const costBbox = tf.sum(tf.abs(tf.sub(tf.expandDims(boxes, 1), tf.expandDims(tgtBoxes, 0))), 2);
    const costGiou = tf.neg(generalizedBoxIou(boxCxcywhToXyxy(boxes) as tf.Tensor2D, boxCxcywhToXyxy(tgtBoxes) as tf.Tensor2D));
    return tf.addN([tf.mul(5, costBbox), tf.mul(2, costClass), tf.mul(2, costGiou)]);
  }).dataSync() as Float32Array;
}

function criterionInputs(rand: () => number, counts: number[]): { tensors: tf.Tensor[]; build: (xs: tf.Tensor[]) => DetectorOutputs } {
  const nMax = Math.max(...counts);
  const groups = Math.max(1, Math.floor(100 / nMax));
  const pad = 2 * nMax * groups;
  const dec = Array.from({ length: 6 }, () => makeOutput(rand, Q));
  const enc = makeOutput(rand, Q);
  const dn = Array.from({ length: 6 }, () => makeOutput(rand, pad));
  const tensors = [...dec, enc, ...dn].flatMap((o) => [o.pred_logits, o.pred_boxes]);
  const build = (xs: tf.Tensor[]): DetectorOutputs => {
    const o = (i: number) => ({ pred_logits: xs[2 * i], pred_boxes: xs[2 * i + 1] });
    return {
      ...o(5),
      aux_outputs: [0, 1, 2, 3, 4].map(o),
      enc_outputs: o(6),
      dn_outputs: { ...o(12), aux_outputs: [7, 8, 9, 10, 11].map(o) },
      dn_meta: { dn_num: groups, single_padding: 2 * nMax },
    };
  };
  return { tensors, build };
}

const info = await selectBackend({ backend: BACKEND, threads: THREADS, log: () => {} });
console.log(`backend ${info.name}${info.threads ? ` (${info.threads} threads)` : ''}, ${ROUNDS} rounds, median ms`);
for (const counts of [[7, 7], [100, 20]]) {
  const rand = rng(counts[0]);
  const targets = makeTargets(rand, counts);
  const out = makeOutput(rand, Q);
  const pred = readPredictions(out, 'bench');
  const hungarian = new HungarianMatcher({});
  const mixed = new MixedMatcher({});
  console.log(`\nGT per image ${counts.join(', ')} (B = ${B}, Q = ${Q}, C = ${C})`);
  console.log(`  cost block, CPU float64 (both images)   ${time(() => targets.forEach((t, b) => matchCostBlock(pred, b, t, hungarian.weights))).toFixed(2)}`);
  console.log(`  cost matrix, tf ops + dataSync (baseline) ${time(() => tfCostMatrix(out, targets)).toFixed(2)}`);
  console.log(`  readPredictions (dataSync + NaN scan)   ${time(() => readPredictions(out, 'bench')).toFixed(2)}`);
  console.log(`  HungarianMatcher.matchData              ${time(() => hungarian.matchData(pred, targets)).toFixed(2)}`);
  console.log(`  MixedMatcher.matchData k = 2            ${time(() => mixed.matchData(pred, targets, 2)).toFixed(2)}`);
  tf.dispose(out);

  const crit = new AlignDETRCriterion({ num_classes: C, weight_dict: expandWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, { num_aux: 5, enc: true, dn: true }) });
  const { tensors, build } = criterionInputs(rand, counts);
  const total = (...xs: tf.Tensor[]) => sumLosses(crit.weightLosses(crit.forward(build(xs), targets)));
  const before = tf.memory().numTensors;
  console.log(`  AlignDETRCriterion forward (13 outputs) ${time(() => {
    const loss = tf.tidy(() => total(...tensors));
    loss.dataSync();
    loss.dispose();
  }).toFixed(1)}`);
  console.log(`  AlignDETRCriterion forward + backward   ${time(() => tf.dispose(tf.grads(total)(tensors))).toFixed(1)}`);
  if (tf.memory().numTensors !== before) console.log(`  LEAK: ${tf.memory().numTensors - before} tensors`);
  tf.dispose(tensors);
}
