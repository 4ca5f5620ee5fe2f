/**
 * ChannelMapper options, init and errors (its numbers are checked against the Align-DETR fixture in
 * aligndetr_backbone_neck.test.ts), DAB-DETR's input projection against a float64 1x1 conv, and the
 * pixel normaliser against direct arithmetic.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@detr/core';
import { expectClose } from '@detr/core/testing';
import { resolvePart } from '@detr/registry';
import { ChannelMapper, DETECTRON2_PIXEL_MEAN, DETECTRON2_PIXEL_STD, InputProjection, PixelNormalizer, normalizeImage } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SHAPES = { res3: { channels: 32, stride: 8 }, res4: { channels: 48, stride: 16 }, res5: { channels: 64, stride: 32 } };

function maxAbs(t: tf.Tensor): number {
  return tf.tidy(() => t.abs().max().dataSync()[0]);
}

describe('ChannelMapper', () => {
  it('defaults: one 1x1 conv + GroupNorm(32) per input, num_outs = number of input shapes, xavier weights, zero bias', () => {
    const neck = new ChannelMapper({ input_shapes: SHAPES, in_features: ['res3', 'res4', 'res5'], out_channels: 64 });
    expect(resolvePart('neck/channel_mapper')).toBe(ChannelMapper);
    expect(neck.numOuts).toBe(3);
    expect(neck.extraConvs).toBeNull();
    const shapes = Object.fromEntries(neck.stateDictShapes('torch'));
    expect(shapes).toEqual({
      'convs.0.conv.weight': [64, 32, 1, 1],
      'convs.0.conv.bias': [64],
      'convs.0.norm.weight': [64],
      'convs.0.norm.bias': [64],
      'convs.1.conv.weight': [64, 48, 1, 1],
      'convs.1.conv.bias': [64],
      'convs.1.norm.weight': [64],
      'convs.1.norm.bias': [64],
      'convs.2.conv.weight': [64, 64, 1, 1],
      'convs.2.conv.bias': [64],
      'convs.2.norm.weight': [64],
      'convs.2.norm.bias': [64],
    });
    neck.convs.toArray().forEach((layer, i) => {
      const cin = [32, 48, 64][i];
      const bound = Math.sqrt(6 / (cin + 64)); // xavier_uniform, gain 1, 1x1 kernel
      const m = maxAbs(layer.conv.weight);
      expect(m).toBeLessThanOrEqual(bound);
      expect(m).toBeGreaterThan(0.9 * bound);
      expect(maxAbs(layer.conv.bias!)).toBe(0);
      expect((layer.norm as unknown as { numGroups: number }).numGroups).toBe(32);
    });
    neck.dispose();
  });

  it('extra levels: the first on the raw last input (3x3/2), the next on the previous output; strides double', () => {
    const neck = new ChannelMapper({ input_shapes: SHAPES, in_features: ['res3', 'res4', 'res5'], out_channels: 32, num_outs: 5, norm_layer: null });
    const shapes = Object.fromEntries(neck.stateDictShapes('torch'));
    expect(shapes['extra_convs.0.conv.weight']).toEqual([32, 64, 3, 3]);
    expect(shapes['extra_convs.1.conv.weight']).toEqual([32, 32, 3, 3]);
    expect(Object.keys(shapes).some((k) => k.includes('norm'))).toBe(false);
    expect(neck.outputShapes(SHAPES).map((s) => s.stride)).toEqual([8, 16, 32, 64, 128]);
    const inputs = { res3: tf.ones([1, 8, 12, 32]) as tf.Tensor4D, res4: tf.ones([1, 4, 6, 48]) as tf.Tensor4D, res5: tf.ones([1, 2, 3, 64]) as tf.Tensor4D };
    const outs = neck.forward(inputs);
    expect(outs.map((o) => o.shape)).toEqual([
      [1, 8, 12, 32],
      [1, 4, 6, 32],
      [1, 2, 3, 32],
      [1, 1, 2, 32],
      [1, 1, 1, 32],
    ]);
    tf.dispose([...Object.values(inputs), ...outs]);
    neck.dispose();
  });

  it('rejects bad options and inputs with errors naming them', () => {
    const base = { input_shapes: SHAPES, in_features: ['res3', 'res4', 'res5'] };
    expect(() => new ChannelMapper({ ...base, in_features: ['res2'] })).toThrow(/in_features entry "res2" is not in input_shapes \(res3, res4, res5\)/);
    expect(() => new ChannelMapper({ ...base, norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 128 } })).toThrow(
      /norm_layer\.num_channels is 128 but the conv has 256 output channels/,
    );
    expect(() => new ChannelMapper({ ...base, out_channels: 48 })).toThrow(/num_groups must be a positive divisor of 48, got 32/);
    expect(() => new ChannelMapper({ ...base, numOuts: 4 } as never)).toThrow(/unknown option "numOuts"/);
    const neck = new ChannelMapper({ ...base, out_channels: 32 });
    const res3 = tf.zeros([1, 4, 4, 32]) as tf.Tensor4D;
    const wrong = tf.zeros([1, 4, 4, 40]) as tf.Tensor4D;
    expect(() => neck.forward({ res3, res4: wrong })).toThrow(/input "res4": expected an NHWC tensor \[B, H, W, 48\], got \[1, 4, 4, 40\]/);
    expect(() => neck.forward({ res3 })).toThrow(/input "res4" is missing \(got res3\)/);
    tf.dispose([res3, wrong]);
    neck.dispose();
  });
});

describe('DAB-DETR input projection', () => {
  it('is a 1x1 conv with bias (keys weight / bias, torch default init) equal to a float64 reference', () => {
    const full = new InputProjection();
    expect(Object.fromEntries(full.stateDictShapes('torch'))).toEqual({ weight: [256, 2048, 1, 1], bias: [256] });
    const bound = 1 / Math.sqrt(2048); // kaiming_uniform(a = sqrt(5)) and the bias both give 1 / sqrt(fan_in)
    expect(maxAbs(full.weight)).toBeLessThanOrEqual(bound);
    expect(maxAbs(full.weight)).toBeGreaterThan(0.9 * bound);
    expect(maxAbs(full.bias!)).toBeLessThanOrEqual(bound);
    full.dispose();

    const proj = new InputProjection({ in_channels: 6, embed_dim: 4 });
    const rng = new Rng(3);
    const xs = rng.normalArray(2 * 3 * 5 * 6);
    const x = tf.tensor4d(xs, [2, 3, 5, 6]);
    const y = proj.forward(x);
    const w = proj.weight.dataSync(); // HWIO [1,1,6,4]
    const b = proj.bias!.dataSync();
    const ref = new Float64Array(2 * 3 * 5 * 4);
    for (let p = 0; p < 2 * 3 * 5; p++)
      for (let o = 0; o < 4; o++) {
        let s = b[o];
        for (let c = 0; c < 6; c++) s += xs[p * 6 + c] * w[c * 4 + o];
        ref[p * 4 + o] = s;
      }
    expect(y.shape).toEqual([2, 3, 5, 4]);
    expectClose(y, ref, 1e-5, 'input_proj');
    expect(() => proj.forward(tf.zeros([1, 2, 2, 5]) as tf.Tensor4D)).toThrow(/InputProjection\.forward: expected an NHWC tensor \[B, H, W, 6\], got \[1, 2, 2, 5\]/);
    expect(() => new InputProjection({ embed_dim: 0 })).toThrow(/embed_dim must be a positive integer, got 0/);
    tf.dispose([x, y]);
    proj.dispose();
  });
});

describe('PixelNormalizer', () => {
  it("computes (x - mean) / std per RGB channel with detectron2's constants", () => {
    const values = [0, 255, 128, 10, 20, 30];
    const images = tf.tensor4d(values, [1, 1, 2, 3]);
    const out = normalizeImage(images);
    const ref = values.map((v, i) => (v - [123.675, 116.28, 103.53][i % 3]) / [58.395, 57.12, 57.375][i % 3]);
    expectClose(out, ref, 1e-6, 'normalised pixels');
    expect([...DETECTRON2_PIXEL_MEAN, ...DETECTRON2_PIXEL_STD]).toEqual([123.675, 116.28, 103.53, 58.395, 57.12, 57.375]);
    const hwc = new PixelNormalizer({ pixel_mean: [1, 2, 3], pixel_std: [2, 2, 2] }).normalize(tf.tensor3d([5, 6, 7], [1, 1, 3], 'int32'));
    expect(hwc.dtype).toBe('float32');
    expect([...hwc.dataSync()]).toEqual([2, 2, 2]);
    expect(() => normalizeImage(tf.zeros([1, 2, 2, 4]) as tf.Tensor4D)).toThrow(/expected NHWC images \[B, H, W, 3\] or \[H, W, 3\], got \[1, 2, 2, 4\]/);
    expect(() => new PixelNormalizer({ pixel_std: [1, 0, 1] })).toThrow(/pixel_std\[1\] must be a positive number, got 0/);
    tf.dispose([images, out, hwc]);
  });
});
