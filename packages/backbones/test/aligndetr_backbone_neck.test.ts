/**
 * Backbone and neck of the whole-model fixture `aligndetr_r50_small` (fixtures/parity/README.md
 * section 10): raw RGB image 0..255 -> pixel normalisation -> detectron2 ResNet-50 (FrozenBN,
 * out res3/res4/res5) -> ChannelMapper (1x1 conv + GN(32) per level, 3x3/2 conv + GN on raw res5),
 * with the detrex-named weights `backbone.*` / `neck.*` of the manifest.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Module, type RawTensor, loadWeightManifest, rawToTensor } from '@detr/core';
import { RTOL, expectClose, fixturePath, fixtureTensor } from '@detr/core/testing';
import { ChannelMapper, PixelNormalizer, ResNet, detrexToDetectron2Keys, loadResNetWeights } from '../src/index';

const FIXTURE = 'aligndetr_r50_small';

function makeBackbone(): ResNet {
  return new ResNet({ depth: 50, out_features: ['res3', 'res4', 'res5'], freeze_at: 1, norm: 'FrozenBN', stride_in_1x1: false });
}

function makeNeck(backbone: ResNet): ChannelMapper {
  return new ChannelMapper({
    input_shapes: backbone.outputShape(),
    in_features: ['res3', 'res4', 'res5'],
    out_channels: 256,
    num_outs: 4,
    kernel_size: 1,
    norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 256 },
  });
}

/** The detector's first two children, named as in detrex. */
class BackboneAndNeck extends Module {
  readonly backbone: ResNet;
  readonly neck: ChannelMapper;
  constructor() {
    super();
    this.backbone = this.registerModule('backbone', makeBackbone());
    this.neck = this.registerModule('neck', makeNeck(this.backbone));
  }
}

let manifest: Map<string, RawTensor>;
let entries: { key: string; shape: number[] }[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  const json = await import('node:fs').then((fs) => JSON.parse(fs.readFileSync(fixturePath(`${FIXTURE}.weights.json`), 'utf8')));
  entries = json.tensors;
  manifest = loadWeightManifest(fixturePath(`${FIXTURE}.weights.json`));
});

describe('ResNet-50 + ChannelMapper on the Align-DETR fixture', () => {
  it('has detrex state-dict keys, and image -> res3..res5 -> neck levels 0..3 match the fixture intermediates', () => {
    const model = new BackboneAndNeck();
    // Names, order and torch shapes of every backbone.* / neck.* entry of the detrex state dict.
    const ours = [...model.stateDictShapes('torch')].map(([key, shape]) => ({ key, shape }));
    const theirs = entries.filter((e) => e.key.startsWith('backbone.') || e.key.startsWith('neck.')).map(({ key, shape }) => ({ key, shape }));
    expect(ours).toEqual(theirs);

    const { backbone, neck } = model;
    const report = loadResNetWeights(backbone, manifest);
    expect(report.format).toBe('detrex');
    const neckWeights = new Map([...detrexToDetectron2Keys(manifest, 'neck.')].map(([k, raw]) => [k, rawToTensor(raw, k)]));
    neck.loadStateDict(neckWeights, { layout: 'torch', strict: true });
    tf.dispose([...neckWeights.values()]);

    const image = tf.tidy(() => fixtureTensor(FIXTURE, 'image').transpose([1, 2, 0]).expandDims(0) as tf.Tensor4D); // CHW -> [1,H,W,3]
    const normalised = new PixelNormalizer().normalize(image);
    const feats = backbone.forward(normalised);
    expect(Object.keys(feats).sort()).toEqual(['res3', 'res4', 'res5']);
    for (const name of ['res3', 'res4', 'res5']) {
      tf.tidy(() => expectClose(feats[name].transpose([0, 3, 1, 2]), fixtureTensor(FIXTURE, `inter/backbone_${name}`), RTOL.activation, `backbone ${name}`));
    }
    const levels = neck.forward(feats);
    expect(levels.length).toBe(4);
    levels.forEach((level, i) => {
      tf.tidy(() => expectClose(level.transpose([0, 3, 1, 2]), fixtureTensor(FIXTURE, `inter/neck_${i}`), RTOL.activation, `neck level ${i}`));
    });
    expect(neck.outputShapes(backbone.outputShape()).map((s) => s.stride)).toEqual([8, 16, 32, 64]);
    tf.dispose([image, normalised, ...Object.values(feats), ...levels]);
    model.dispose();
  });
});
