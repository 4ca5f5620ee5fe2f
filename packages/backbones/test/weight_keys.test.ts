/**
 * Key maps torchvision -> detectron2 -> detrex, checked against the `d2_key` column of the fixture
 * manifest (fixtures/parity/README.md section 9), and loading real checkpoint files (.pth and
 * safetensors) of the ResNet-50 head (conv1, bn1, layer1) into the stem + res2 of our ResNet.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPth, readSafetensors } from '@detr/core';
import { RTOL, expectClose, fixturePath, fixtureTensor } from '@detr/core/testing';
import {
  ResNet,
  cleanDetectron2Keys,
  detectResNetKeyFormat,
  detectron2ToDetrexKeys,
  detrexToDetectron2Keys,
  loadResNetWeights,
  torchvisionToDetectron2Key,
  torchvisionToDetectron2Keys,
} from '../src/index';

interface ManifestEntry {
  key: string;
  shape: number[];
  d2_key: string | null;
}
let manifest: ManifestEntry[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  manifest = JSON.parse(fs.readFileSync(fixturePath('resnet50.weights.json'), 'utf8')).tensors;
});

describe('torchvision -> detectron2 -> detrex key maps', () => {
  it('maps every torchvision ResNet-50 key to the manifest d2_key (null = dropped)', () => {
    expect(manifest.length).toBe(320);
    for (const e of manifest) expect(torchvisionToDetectron2Key(e.key), e.key).toBe(e.d2_key);
  });

  it('renames a whole state dict in order, dropping fc and num_batches_tracked', () => {
    const tv = new Map(manifest.map((e) => [e.key, e.shape]));
    const d2 = torchvisionToDetectron2Keys(tv);
    expect([...d2.keys()]).toEqual(manifest.filter((e) => e.d2_key !== null).map((e) => e.d2_key));
    expect(d2.get('res5.0.shortcut.weight')).toEqual([2048, 1024, 1, 1]);
    const detrex = detectron2ToDetrexKeys(d2);
    expect([...detrex.keys()].every((k) => k.startsWith('backbone.'))).toBe(true);
    expect(detrexToDetectron2Keys(new Map([...detrex, ['neck.convs.0.conv.weight', [1]]]))).toEqual(d2);
  });

  it('rejects keys that are not part of a torchvision ResNet, naming them', () => {
    for (const bad of ['layer5.0.conv1.weight', 'layer1.0.bn4.weight', 'layer1.0.downsample.2.weight', 'bn1.gamma', 'head.weight']) {
      expect(() => torchvisionToDetectron2Key(bad)).toThrow(new RegExp(`"${bad.replace(/\./g, '\\.')}" is not a key`));
    }
  });

  it('cleans detectron2 checkpoints (num_batches_tracked, stem.fc from convert-torchvision-to-d2.py)', () => {
    const m = new Map([
      ['stem.conv1.weight', 1],
      ['stem.conv1.norm.num_batches_tracked', 2],
      ['stem.fc.weight', 3],
      ['res2.0.conv1.weight', 4],
    ]);
    expect([...cleanDetectron2Keys(m).keys()]).toEqual(['stem.conv1.weight', 'res2.0.conv1.weight']);
  });

  it('detects the naming from the stem key, and says what it saw when none fits', () => {
    expect(detectResNetKeyFormat(['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight'])).toBe('torchvision');
    expect(detectResNetKeyFormat(['stem.conv1.weight'])).toBe('detectron2');
    expect(detectResNetKeyFormat(['backbone.stem.conv1.weight', 'neck.convs.0.conv.weight'])).toBe('detrex');
    expect(() => detectResNetKeyFormat(['encoder.weight', 'decoder.bias'])).toThrow(/no ResNet stem key found.*first keys: encoder\.weight, decoder\.bias/);
  });
});

describe('loading checkpoint files', () => {
  it.each([
    ['resnet50_tv_head.pth', () => readPth(fixturePath('resnet50_tv_head.pth')).tensors],
    ['resnet50_tv_head.safetensors', () => readSafetensors(fixturePath('resnet50_tv_head.safetensors')).tensors],
  ])('%s (torchvision names) loads into stem + res2 and reproduces d2/res2', (_file, read) => {
    const tensors = read();
    const model = new ResNet({ depth: 50, out_features: ['res2'] });
    const report = loadResNetWeights(model, tensors);
    expect(report.format).toBe('torchvision');
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    const x = tf.tidy(() => fixtureTensor('resnet50', 'input').transpose([0, 2, 3, 1]) as tf.Tensor4D);
    const { res2 } = model.forward(x);
    tf.tidy(() => expectClose(res2.transpose([0, 3, 1, 2]), fixtureTensor('resnet50', 'd2/res2'), RTOL.activation, 'res2 from the head checkpoint'));
    tf.dispose([x, res2]);
    model.dispose();
  });

  it('skips stages the model did not build; strict loading names missing keys and shape mismatches', () => {
    const tensors = readSafetensors(fixturePath('resnet50_tv_head.safetensors')).tensors;
    const stemOnly = new ResNet({ depth: 50, out_features: ['stem'] });
    const report = loadResNetWeights(stemOnly, tensors);
    expect(report.loaded.sort()).toEqual(['stem.conv1.norm.bias', 'stem.conv1.norm.running_mean', 'stem.conv1.norm.running_var', 'stem.conv1.norm.weight', 'stem.conv1.weight']);
    expect(report.skipped.length).toBe(50); // layer1: 10 convs, 40 BN tensors
    stemOnly.dispose();

    const upToRes3 = new ResNet({ depth: 50, out_features: ['res3'] });
    expect(() => loadResNetWeights(upToRes3, tensors)).toThrow(/torchvision names.*missing keys \(\d+\): res3\.0\.shortcut\.weight/s);
    const partial = loadResNetWeights(upToRes3, tensors, { strict: false });
    expect(partial.loaded.length).toBe(55);
    upToRes3.dispose();

    const r18 = new ResNet({ depth: 18, out_features: ['res2'] });
    expect(() => loadResNetWeights(r18, tensors)).toThrow(/shape mismatches.*res2\.0\.conv1\.weight: expected \[64,64,3,3\] got \[64,64,1,1\]/s);
    r18.dispose();
  });
});
