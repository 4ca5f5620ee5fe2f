/**
 * The detector pass of the analysis (analyzeDetector): a stand-in detector whose outputs are
 * constructed per image (aligned: confidence = 0.05 + 0.9 IoU; anti-aligned: 0.95 - 0.9 IoU), the
 * real HungarianMatcher for the final-layer matching, and the real COCO evaluation on a temporary
 * annotation file. Checks that AP and the alignment metrics come from the same images, that
 * max_images limits both, and that every tensor is released.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module } from '@detr/core';
import { HungarianMatcher } from '@detr/matchers';
import { analyzeDetector, type Batch, type Detections, type EvalLoader } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const Q = 24;
const C = 3;
const SIZE = 100; // every image is 100 x 100 px
const logit = (p: number) => Math.log(p / (1 - p));

interface Scene {
  id: number;
  labels: number[];
  boxes: number[]; // normalised cxcywh
  logits: Float32Array; // [Q*C]
  predBoxes: Float32Array; // [Q*4]
}

/**
 * Image `id` with n GTs of distinct classes; GT j's queries are concentric boxes with IoU
 * best_j, best_j - 0.3, ... where best_j = 1 - 0.05 j (so the matched IoUs differ between GTs, and
 * every GT's best box beats every other GT's second box); the
 * probability of the GT's class follows conf(IoU); the remaining queries are background boxes.
 */
function scene(id: number, n: number, conf: (iou: number) => number): Scene {
  const labels = Array.from({ length: n }, (_, j) => j % C);
  const boxes: number[] = [];
  for (let j = 0; j < n; j++) boxes.push(0.2 + 0.3 * j, 0.5, 0.16, 0.16);
  const logits = new Float32Array(Q * C).fill(-12);
  const predBoxes = new Float32Array(Q * 4);
  let q = 0;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < 4; i++, q++) {
      const iou = 1 - 0.05 * j - 0.3 * i;
      const s = 0.16 * Math.sqrt(iou);
      predBoxes.set([boxes[4 * j], 0.5, s, s], q * 4);
      logits[q * C + labels[j]] = logit(conf(iou));
    }
  }
  for (; q < Q; q++) {
    predBoxes.set([0.5, 0.05 + 0.01 * (q % 5), 0.04, 0.04], q * 4);
    logits.fill(logit(conf(0)), q * C, (q + 1) * C);
  }
  return { id, labels, boxes, logits, predBoxes };
}

class ConstructedDetector extends Module {
  forwards = 0;
  constructor(private readonly scenes: Map<number, Scene>) {
    super();
  }
  private pick(batch: Batch): Scene[] {
    return batch.imageIds.map((id) => this.scenes.get(id)!);
  }
  forward(batch: Batch, _opts: { training?: boolean } = {}) {
    this.forwards++;
    const s = this.pick(batch);
    const b = s.length;
    return {
      pred_logits: tf.tensor3d(Float32Array.from(s.flatMap((x) => Array.from(x.logits))), [b, Q, C]),
      pred_boxes: tf.tensor3d(Float32Array.from(s.flatMap((x) => Array.from(x.predBoxes))), [b, Q, 4]),
      aux_outputs: [{ pred_logits: tf.zeros([b, Q, C]), pred_boxes: tf.zeros([b, Q, 4]) }],
    };
  }
  forwardTrain(): Record<string, tf.Scalar> {
    throw new Error('not used');
  }
  /** Every (query, class) with probability > 0.01 as a detection, boxes in original pixels. */
  predict(batch: Batch): Detections[] {
    return this.pick(batch).map((sc) => {
      const scores: number[] = [], labels: number[] = [], boxes: number[] = [];
      for (let q = 0; q < Q; q++) {
        for (let c = 0; c < C; c++) {
          const p = 1 / (1 + Math.exp(-sc.logits[q * C + c]));
          if (p < 0.01) continue;
          const [cx, cy, w, h] = sc.predBoxes.subarray(q * 4, q * 4 + 4);
          scores.push(p);
          labels.push(c);
          boxes.push((cx - w / 2) * SIZE, (cy - h / 2) * SIZE, (cx + w / 2) * SIZE, (cy + h / 2) * SIZE);
        }
      }
      return { scores: Float32Array.from(scores), labels: Int32Array.from(labels), boxes: Float32Array.from(boxes) };
    });
  }
}

function fixture(conf: (iou: number) => number) {
  const scenes = [scene(1, 2, conf), scene(2, 3, conf), scene(3, 1, conf), scene(4, 3, conf), scene(5, 2, conf)];
  const dir = mkdtempSync(join(tmpdir(), 'analysis-'));
  const annFile = join(dir, 'ann.json');
  let annId = 1;
  writeFileSync(
    annFile,
    JSON.stringify({
      images: scenes.map((s) => ({ id: s.id, width: SIZE, height: SIZE, file_name: `${s.id}.png` })),
      categories: Array.from({ length: C }, (_, c) => ({ id: c + 1, name: `c${c}` })),
      annotations: scenes.flatMap((s) =>
        s.labels.map((l, j) => {
          const [cx, cy, w, h] = s.boxes.slice(4 * j, 4 * j + 4).map((v) => v * SIZE);
          return { id: annId++, image_id: s.id, category_id: l + 1, bbox: [cx - w / 2, cy - h / 2, w, h], area: w * h, iscrowd: 0 };
        }),
      ),
    }),
  );
  const loader: EvalLoader = {
    dataset: { annFile, labelToCategoryId: (l) => l + 1, length: scenes.length },
    *epoch() {
      for (let i = 0; i < scenes.length; i += 2) {
        const part = scenes.slice(i, i + 2);
        yield {
          images: tf.zeros([part.length, 8, 8, 3]) as tf.Tensor4D,
          masks: tf.zeros([part.length, 8, 8], 'bool') as tf.Tensor3D,
          targets: part.map((s) => ({ labels: Int32Array.from(s.labels), boxes: Float32Array.from(s.boxes) })),
          imageIds: part.map((s) => s.id),
          imageSizes: part.map(() => [SIZE, SIZE] as [number, number]),
          origSizes: part.map(() => [SIZE, SIZE] as [number, number]),
        };
      }
    },
  };
  return { model: new ConstructedDetector(new Map(scenes.map((s) => [s.id, s]))), loader };
}

const matcher = new HungarianMatcher({ cost_class: 2, cost_bbox: 5, cost_giou: 2 });

describe('analyzeDetector', () => {
  it('aligned outputs: BR recall 1, Pearson 1 over the Hungarian-matched outputs, AP 100; no tensor left', () => {
    const { model, loader } = fixture((iou) => 0.05 + 0.9 * iou);
    const before = tf.memory().numTensors;
    const res = analyzeDetector(model as never, loader, { matcher });
    expect(tf.memory().numTensors).toBe(before);
    const rep = res.alignment.report();
    expect(res.numImages).toBe(5);
    expect(rep.num_gt).toBe(11);
    expect(rep.recall.top_n).toBe(1);
    expect(rep.recall.top_2n).toBe(1);
    // the matcher picks each GT's best box: IoU 1 - 0.05 j (3 distinct values), all on the line
    expect(rep.matched.count).toBe(11);
    expect(rep.matched.iou.mean).toBeCloseTo((5 * 1 + 4 * 0.95 + 2 * 0.9) / 11, 5);
    expect(rep.matched.pearson).toBeCloseTo(1, 5);
    // every GT's best box outranks all duplicates and background: AP50 is exactly 100 (the stricter
    // thresholds of AP lose the GTs whose best box has IoU 0.9 / 0.95)
    expect(res.evaluation!.named.AP50).toBeCloseTo(100, 6);
    expect(res.evaluation!.numImages).toBe(5);
  });

  it('anti-aligned outputs: BR recall 0, Pearson -1 and a lower AP50 (confident background boxes rank first)', () => {
    const { model, loader } = fixture((iou) => 0.95 - 0.9 * iou);
    const res = analyzeDetector(model as never, loader, { matcher, confidence: 'gt_class' });
    const rep = res.alignment.report();
    expect(rep.recall.top_n).toBe(0);
    expect(rep.recall.top_2n).toBe(0);
    expect(rep.matched.pearson).toBeCloseTo(-1, 5);
    expect(res.evaluation!.named.AP50).toBeLessThan(50);
  });

  it('max_images limits the alignment metrics and the evaluation to the first images', () => {
    const { model, loader } = fixture((iou) => 0.05 + 0.9 * iou);
    const res = analyzeDetector(model as never, loader, { matcher, max_images: 3 });
    expect(res.numImages).toBe(3);
    expect(res.alignment.report().num_gt).toBe(2 + 3 + 1);
    expect(res.evaluation!.numImages).toBe(3);
    expect(new Set(res.evaluation!.results.map((r) => r.image_id))).toEqual(new Set([1, 2, 3]));
    expect(model.forwards).toBe(2); // batches [1,2], [3,4]; the pass stops there
    expect(() => analyzeDetector(model as never, loader, { matcher, max_images: 0 })).toThrow(/max_images must be >= 1/);
  });
});
