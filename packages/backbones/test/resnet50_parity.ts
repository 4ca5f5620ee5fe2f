/**
 * ResNet-50 against the PyTorch fixture (fixtures/parity/README.md section 9) on one backend:
 * detectron2 ResNet with FrozenBN on the manifest's torchvision weights, outputs stem (after max-pool)
 * and res2..res5. The fixture is NCHW; our model runs NHWC, so the input is transposed in and the
 * outputs back. The same weights in a DC5 model (res5_dilation = 2) are checked against an independent
 * float64 reference, since no PyTorch fixture has a dilated res5.
 * resnet50_parity.test.ts runs these checks on cpu, resnet50_parity.wasm.test.ts on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawTensor, loadWeightManifest } from '@detr/core';
import { HeadroomLog, RTOL, fixturePath, fixtureTensor, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
import { type BottleneckBlock, ResNet, loadResNetWeights } from '../src/index';
import { bottleneckParams, toArray4 } from './reference/from_modules';
import { bottleneckRef } from './reference/resnet_reference';

export function describeResNet50Parity(backend: TestBackend): void {
  const log = new HeadroomLog('resnet50', backend);
  const close = log.close;
  let weights: Map<string, RawTensor>;
  let input: tf.Tensor4D; // NHWC
  let model: ResNet;

  describe(`ResNet-50 parity (detectron2 layout, FrozenBN, torchvision weights), ${backend} backend`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
      weights = loadWeightManifest(fixturePath('resnet50.weights.json'));
      input = tf.tidy(() => fixtureTensor('resnet50', 'input').transpose([0, 2, 3, 1]) as tf.Tensor4D);
      model = new ResNet({ depth: 50, out_features: ['stem', 'res2', 'res3', 'res4', 'res5'], freeze_at: 1 });
    });

    afterAll(() => {
      model?.dispose();
      input?.dispose();
      reportHeadroom(log);
    });

    it('stem and res2..res5 match d2/* within the activation tolerance', () => {
      const report = loadResNetWeights(model, weights);
      expect(report.format).toBe('torchvision');
      expect(report.missing).toEqual([]);
      expect(report.loaded.length).toBe(model.stateDictShapes().size);
      const before = tf.memory().numTensors;
      const out = model.forward(input);
      expect(Object.keys(out).sort()).toEqual(['res2', 'res3', 'res4', 'res5', 'stem']);
      for (const name of ['stem', 'res2', 'res3', 'res4', 'res5']) {
        tf.tidy(() => {
          const ref = fixtureTensor('resnet50', `d2/${name}`);
          close(out[name].transpose([0, 3, 1, 2]), ref, RTOL.activation, `resnet50 ${name}`);
        });
      }
      tf.dispose(Object.values(out));
      expect(tf.memory().numTensors).toBe(before); // forward leaks nothing
    });

    it('DC5 (res5_dilation=2): res4 is unchanged, res5 keeps stride 16 and matches a float64 reference', () => {
      const dc5 = new ResNet({ depth: 50, out_features: ['res4', 'res5'], res5_dilation: 2 });
      expect(dc5.outputShape()).toEqual({ res4: { channels: 1024, stride: 16 }, res5: { channels: 2048, stride: 16 } });
      loadResNetWeights(dc5, weights); // the same weights: DC5 changes no shape
      const res5 = dc5.stages[3].toArray() as BottleneckBlock[];
      expect(res5[0].conv2.dilation).toEqual([2, 2]);
      expect(res5[0].conv2.padding).toEqual([2, 2]);
      expect(res5[0].conv2.stride).toEqual([1, 1]);
      expect(res5[0].shortcut?.stride).toEqual([1, 1]);

      const out = dc5.forward(input);
      tf.tidy(() => close(out.res4.transpose([0, 3, 1, 2]), fixtureTensor('resnet50', 'd2/res4'), RTOL.activation, 'DC5 res4'));
      expect(out.res5.shape).toEqual([1, 4, 5, 2048]);
      let ref = toArray4(out.res4);
      for (const block of res5) ref = bottleneckRef(ref, bottleneckParams(block));
      close(out.res5, ref.data, RTOL.activation, 'DC5 res5 vs float64 reference');
      tf.dispose(Object.values(out));
      dc5.dispose();
    });
  });
}
