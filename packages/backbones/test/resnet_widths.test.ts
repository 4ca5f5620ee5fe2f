import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ResNet } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Parameters of a BasicBlock ResNet with the given widths, counted from the architecture (no norm params: FrozenBN). */
function basicResNetConvParams(stem: number, res2: number, blocks: number[]): number {
  let n = 3 * stem * 49; // 7x7 stem conv
  let cin = stem;
  let c = res2;
  blocks.forEach((nb, i) => {
    for (let b = 0; b < nb; b++) {
      const inC = b === 0 ? cin : c;
      n += inC * c * 9 + c * c * 9; // two 3x3 convs
      if (b === 0 && (inC !== c || i > 0)) n += inC * c; // 1x1 projection shortcut
    }
    cin = c;
    c *= 2;
  });
  return n;
}

describe('ResNet widths (detectron2 STEM_OUT_CHANNELS / RES2_OUT_CHANNELS / WIDTH_PER_GROUP)', () => {
  it('a half-width ResNet-18 has the channels and parameter count of its architecture', () => {
    const r = new ResNet({ depth: 18, out_features: ['res3', 'res4', 'res5'], stem_out_channels: 32, res2_out_channels: 32, norm: 'FrozenBN' });
    expect(r.outputShape()).toEqual({ res3: { channels: 64, stride: 8 }, res4: { channels: 128, stride: 16 }, res5: { channels: 256, stride: 32 } });
    expect(r.numParameters()).toBe(basicResNetConvParams(32, 32, [2, 2, 2, 2]));
    // The standard width: torchvision's ResNet-18 has 11,689,512 parameters, of which fc 513,000 and BN
    // weight+bias 9,600 (FrozenBN holds them as buffers here), so 11,166,912 conv weights.
    const std = new ResNet({ depth: 18, out_features: ['res5'] });
    expect(basicResNetConvParams(64, 64, [2, 2, 2, 2])).toBe(11_166_912);
    expect(std.numParameters()).toBe(11_166_912);
    const y = r.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D);
    expect(y.res5.shape).toEqual([1, 2, 2, 256]);
    r.dispose();
    std.dispose();
  });

  it('bottleneck widths follow width_per_group and res2_out_channels', () => {
    const r = new ResNet({ depth: 50, out_features: ['res2'], width_per_group: 32, res2_out_channels: 128 });
    expect(r.outputShape().res2.channels).toBe(128);
    const sd = r.stateDictShapes('torch');
    expect(sd.get('res2.0.conv1.weight')).toEqual([32, 64, 1, 1]);
    expect(sd.get('res2.0.conv2.weight')).toEqual([32, 32, 3, 3]);
    expect(sd.get('res2.0.conv3.weight')).toEqual([128, 32, 1, 1]);
    r.dispose();
  });

  it('rejects widths that are not positive integers', () => {
    expect(() => new ResNet({ depth: 18, res2_out_channels: 0 })).toThrow(/res2_out_channels must be a positive integer/);
  });
});
