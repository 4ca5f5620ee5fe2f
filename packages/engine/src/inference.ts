/**
 * Inference on image files (`nx run <project>:infer -- --infer a.jpg b.png`): decode, apply the test
 * config's transforms, predict, and write each image with its boxes drawn plus one JSON of detections
 * in original-image pixels (xyxy and COCO xywh).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Rng, writeFileAtomic } from '@detr/core';
import { applyTransforms, collate, decodeImage, type DetectionSample, type Transform } from '@detr/datasets';
import { instantiate } from '@detr/registry';
import { disposingScope } from './evaluation';
import { drawBoxes } from './plot';
import { disposeBatch, type TrainableDetector } from './types';

type AnyConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface InferenceRecord {
  file: string;
  height: number;
  width: number;
  detections: { label: number; name: string; score: number; box_xyxy: number[]; bbox_xywh: number[] }[];
}

export async function inferOnImages(
  model: TrainableDetector,
  cfg: AnyConfig,
  files: string[],
  outDir: string,
  log: (line: string) => void,
): Promise<InferenceRecord[]> {
  if (!files.length) throw new Error('--infer needs image files: nx run <project>:infer -- IMAGE [IMAGE...]');
  const testCfg = cfg.dataloader?.test;
  if (!testCfg?.transforms) throw new Error('the config has no dataloader.test.transforms (needed to size images for inference)');
  const transforms = instantiate<Transform[]>(testCfg.transforms);
  const names: string[] = cfg.dataloader?.class_names ?? [];
  const threshold = Number(cfg.train?.vis_score_threshold ?? 0.3);
  mkdirSync(outDir, { recursive: true });
  model.eval();
  const records: InferenceRecord[] = [];
  for (const [i, file] of files.entries()) {
    const image = await decodeImage(file);
    const sample: DetectionSample = {
      imageId: i + 1,
      fileName: file,
      image,
      boxes: new Float32Array(0),
      labels: new Int32Array(0),
      origSize: [image.height, image.width],
    };
    const batch = collate([applyTransforms(sample, transforms, new Rng(0))], testCfg.collate);
    const dets = (() => {
      try {
        return disposingScope(() => model.predict(batch))[0];
      } finally {
        disposeBatch(batch);
      }
    })();
    const rec: InferenceRecord = { file, height: image.height, width: image.width, detections: [] };
    for (let j = 0; j < dets.scores.length; j++) {
      const b = Array.from(dets.boxes.subarray(j * 4, j * 4 + 4));
      rec.detections.push({
        label: dets.labels[j],
        name: names[dets.labels[j]] ?? String(dets.labels[j]),
        score: dets.scores[j],
        box_xyxy: b,
        bbox_xywh: [b[0], b[1], b[2] - b[0], b[3] - b[1]],
      });
    }
    records.push(rec);
    const shown = rec.detections.filter((d) => d.score >= threshold);
    const rgb = { data: Uint8Array.from(image.data), height: image.height, width: image.width };
    const png = drawBoxes(
      rgb,
      shown.map((d) => ({ box: d.box_xyxy, label: `${d.name} ${d.score.toFixed(2)}`, color: '#e0302a' })),
      Math.max(1, Math.floor(512 / Math.max(image.height, image.width))),
    );
    const out = join(outDir, `${basename(file, extname(file))}_pred.png`);
    writeFileSync(out, png);
    log(`[infer] ${file}: ${shown.length} detections with score >= ${threshold} -> ${out}`);
  }
  writeFileAtomic(join(outDir, 'detections.json'), JSON.stringify(records, null, 1));
  log(`[infer] all detections: ${join(outDir, 'detections.json')}`);
  return records;
}
