/**
 * Whole-model eval parity through the config system, on one backend: the small Align-DETR R50 4-scale
 * model of fixtures/parity/aligndetr_r50_small.safetensors (README section 10) is the project's
 * aligndetr_k2_r50_4scale_12ep config with the fixture's sizes applied as command-line style overrides,
 * built by `instantiate`; the backbone / neck / large tensors come from the weight manifest and the
 * transformer / head part from the real torch.save file through `train.init_checkpoint` loading
 * (engine's loadInitCheckpoint, with its load report). Outputs, intermediates and the post-processed
 * detections of `predict` are compared with the README tolerances, indices exactly.
 * aligndetr_r50_small_parity.test.ts runs this on cpu (with the structure checks), the .wasm.test.ts
 * twin on wasm.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWeightManifest, rawToTensor, readPth } from '@detr/core';
import { HeadroomLog, fixturePath, fixtureTensor, loadFixture, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
import { loadInitCheckpoint } from '@detr/engine';
import type { DINOOutputs, DINOTrace, Detections } from '@detr/dino';
import { applyOverrides, instantiate, loadConfigFile, resolveConfig } from '@detr/registry';
import { REPO_ROOT } from '../../../tools/cli_common';
import { AlignDETR } from '../src/index';
import { itChecksSmallAlignDetrOutputs } from '../../dino/test/aligndetr_small_output_checks';

const FIXTURE = 'aligndetr_r50_small';
const HEAD_PTH = fixturePath(`${FIXTURE}_head.pth`);
const CONFIG = join(REPO_ROOT, 'projects/align-detr/configs/aligndetr_k2_r50_4scale_12ep.ts');

/** The fixture's settings (its __metadata__.config) as overrides of the project config. */
function fixtureOverrides(c: Record<string, any>): string[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const json = JSON.stringify;
  return [
    `model.num_classes=${c.num_classes}`,
    `model.num_queries=${c.num_queries}`,
    `model.dn_number=${c.dn_number}`,
    `model.select_box_nums_for_evaluation=${c.select_box_nums_for_evaluation}`,
    `model.embed_dim=${c.embed}`,
    `model.pixel_mean=${json(c.pixel_mean)}`,
    `model.pixel_std=${json(c.pixel_std)}`,
    `model.transformer.num_feature_levels=${c.levels}`,
    `model.transformer.encoder.num_layers=${c.enc_layers}`,
    `model.transformer.encoder.post_norm=${c.encoder_post_norm}`,
    `model.transformer.decoder.num_layers=${c.dec_layers}`,
    `model.transformer.decoder.look_forward_twice=${c.look_forward_twice}`,
    ...['encoder', 'decoder'].flatMap((p) => [`model.transformer.${p}.embed_dim=${c.embed}`, `model.transformer.${p}.num_heads=${c.heads}`, `model.transformer.${p}.feedforward_dim=${c.ffn}`]),
    ...Object.entries(c.pos_embed).map(([k, v]) => `model.position_embedding.${k}=${json(v)}`),
    `model.criterion.match_num=${json([...Array(c.dec_layers).fill(2), 1])}`,
    `train.init_checkpoint=${HEAD_PTH}`,
  ];
}

/**
 * Registers the parity tests on `backend`; `structure` adds the backend-independent checks of the
 * built model (state-dict keys / order / shapes, the init_checkpoint load report).
 */
export function describeAlignDetrSmallParity(backend: TestBackend, opts: { structure?: boolean } = {}): void {
  const log = new HeadroomLog(FIXTURE, backend);
  const close = log.close;
  let model: AlignDETR;
  let outputs: DINOOutputs;
  let trace: DINOTrace;
  let detections: Detections[];
  let loadLog: string[];
  let headKeys: string[];
  let manifestKeys: string[];
  let manifestOrder: { key: string; shape: number[] }[];

  beforeAll(async () => {
    await useTestBackend(backend);
    const fixtureConfig = loadFixture(FIXTURE).config;
    const resolved = resolveConfig(applyOverrides(await loadConfigFile(CONFIG), fixtureOverrides(fixtureConfig))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    model = instantiate<AlignDETR>(resolved.model).eval();

    // Backbone, neck and the large transformer tensors from the manifest (every key the .pth lacks) ...
    headKeys = [...readPth(HEAD_PTH).tensors.keys()];
    const manifest = loadWeightManifest(fixturePath(`${FIXTURE}.weights.json`));
    manifestKeys = [...manifest.keys()];
    manifestOrder = [...manifest].map(([key, raw]) => ({ key, shape: [...raw.shape] }));
    const rest = new Map([...manifest].filter(([k]) => !headKeys.includes(k)).map(([k, raw]) => [k, rawToTensor(raw, k)]));
    const restReport = model.loadStateDict(rest, { layout: 'torch', strict: false });
    tf.dispose([...rest.values()]);
    if (restReport.unexpected.length || restReport.shapeMismatch.length) throw new Error(`manifest load: ${JSON.stringify(restReport).slice(0, 400)}`);
    // ... and the head part as train.init_checkpoint loads it.
    loadLog = [];
    loadInitCheckpoint(model, resolved.train.init_checkpoint, (l) => loadLog.push(l));

    const image = tf.tidy(() => model.normalize(fixtureTensor(FIXTURE, 'image').transpose([1, 2, 0]).expandDims(0) as tf.Tensor4D)); // CHW -> [1,H,W,3]
    const [h, w] = [image.shape[1], image.shape[2]];
    trace = {};
    outputs = model.forward({ images: image }, { training: false, trace });
    detections = model.predict({ images: image, imageSizes: [[h, w]], origSizes: [[h, w]] } as Parameters<AlignDETR['predict']>[0]) as Detections[];
    image.dispose();
  }, 180_000);

  afterAll(() => {
    model?.dispose();
    reportHeadroom(log);
  });

  if (opts.structure) {
    describe('aligndetr_r50_small from the project config', () => {
      it('is the AlignDETR class with the fixture state dict (keys, order and torch shapes)', () => {
        expect(model).toBeInstanceOf(AlignDETR);
        const ours = [...model.stateDictShapes('torch')].map(([key, shape]) => ({ key, shape }));
        expect(ours).toEqual(manifestOrder);
      });

      it('train.init_checkpoint loading reports the .pth head part: all of it loaded, the rest missing, nothing unexpected', () => {
        const text = loadLog.join('\n');
        expect(text).toContain(`loaded ${headKeys.length} tensors`);
        expect(text).toContain(`missing keys (${manifestKeys.length - headKeys.length})`);
        expect(text).not.toContain('unexpected keys');
        expect(text).not.toContain('shape mismatches');
        expect(text).not.toMatch(/checkpoint\] .*torchvision|detectron2/); // no key converter claimed a detector checkpoint
      });
    });
  }

  describe(`aligndetr_r50_small eval forward vs detrex (${backend} backend)`, () => {
    itChecksSmallAlignDetrOutputs(() => ({ outputs, trace, detections }), close, backend);
  });
}
