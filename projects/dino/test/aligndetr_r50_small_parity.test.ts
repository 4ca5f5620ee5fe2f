// Whole-model eval parity: the small Align-DETR (= DINO) R50 4-scale model of
// fixtures/parity/aligndetr_r50_small.safetensors (README section 10), weights from the manifest with
// the transformer / head part read from the real torch.save file, run on the fixture image on the cpu
// backend; every output, intermediate and post-processed detection compared with the README tolerances,
// top-k indices exactly.
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWeightManifest, rawToTensor, readPth } from '@detr/core';
import { expectClose, fixturePath, fixtureTensor, loadFixture } from '@detr/core/testing';
import type { DINO, DINOOutputs, DINOTrace, Detections } from '../src/index';
import { buildSmallDino } from './build_small_model';
import { itChecksSmallAlignDetrOutputs } from './aligndetr_small_output_checks';

const FIXTURE = 'aligndetr_r50_small';
const HEAD_PTH = fixturePath(`${FIXTURE}_head.pth`);

let model: DINO;
let outputs: DINOOutputs;
let trace: DINOTrace;
let detections: Detections[];
let headKeys: string[];
let headLoad: { loaded: string[]; missing: string[]; unexpected: string[]; shapeMismatch: unknown[] };
let manifestOrder: { key: string; shape: number[] }[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg = loadFixture(FIXTURE).config;
  model = buildSmallDino({ num_classes: cfg.num_classes, num_queries: cfg.num_queries, enc_layers: cfg.enc_layers, dec_layers: cfg.dec_layers, select_box_nums_for_evaluation: cfg.select_box_nums_for_evaluation, dn_number: cfg.dn_number }).eval();
  manifestOrder = JSON.parse(fs.readFileSync(fixturePath(`${FIXTURE}.weights.json`), 'utf8')).tensors.map((e: { key: string; shape: number[] }) => ({ key: e.key, shape: e.shape }));

  // Backbone, neck and the large transformer tensors from the manifest; the head part from the .pth.
  const pth = readPth(HEAD_PTH);
  headKeys = [...pth.tensors.keys()];
  const manifest = loadWeightManifest(fixturePath(`${FIXTURE}.weights.json`));
  const rest = new Map([...manifest].filter(([k]) => !pth.tensors.has(k)).map(([k, raw]) => [k, rawToTensor(raw, k)]));
  const restLoad = model.loadStateDict(rest, { layout: 'torch', strict: false });
  tf.dispose([...rest.values()]);
  const head = new Map([...pth.tensors].map(([k, raw]) => [k, rawToTensor(raw, k)]));
  headLoad = model.loadStateDict(head, { layout: 'torch', strict: false });
  tf.dispose([...head.values()]);
  if (restLoad.unexpected.length || restLoad.shapeMismatch.length) throw new Error(`manifest load: ${JSON.stringify(restLoad).slice(0, 500)}`);

  const image = tf.tidy(() => model.normalize(fixtureTensor(FIXTURE, 'image').transpose([1, 2, 0]).expandDims(0) as tf.Tensor4D)); // CHW -> [1,H,W,3]
  const [h, w] = [image.shape[1], image.shape[2]];
  trace = {};
  outputs = model.forward({ images: image }, { training: false, trace });
  detections = model.inference(outputs, [[h, w]], [[h, w]]);
  image.dispose();
}, 120_000);

afterAll(() => {
  model?.dispose();
});

describe('aligndetr_r50_small: names and weights', () => {
  it("state-dict keys, order and torch shapes equal detrex's (418 entries, tied heads listed twice)", () => {
    const ours = [...model.stateDictShapes('torch')].map(([key, shape]) => ({ key, shape }));
    expect(ours).toEqual(manifestOrder);
    // Tied heads: class_embed.i is the same parameter as transformer.decoder.class_embed.i.
    const names = model.namedParameters().map(([n]) => n);
    expect(names.some((n) => n.startsWith('class_embed.'))).toBe(false);
    expect(names.filter((n) => n.startsWith('transformer.decoder.class_embed.')).length).toBe(6);
  });

  it('the .pth head part loaded non-strictly covered exactly its 126 entries', () => {
    expect(headKeys.length).toBe(126);
    expect(headLoad.unexpected).toEqual([]);
    expect(headLoad.shapeMismatch).toEqual([]);
    expect([...headLoad.loaded].sort()).toEqual([...headKeys].sort());
    expect(headKeys.every((k) => !k.startsWith('backbone.') && !k.startsWith('neck.'))).toBe(true);
  });
});

describe('aligndetr_r50_small: eval forward (cpu backend)', () => {
  itChecksSmallAlignDetrOutputs(() => ({ outputs, trace, detections }), expectClose, 'cpu');
});
