import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedEverything } from '@detr/core';
import { BottleneckBlock, ResNet } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function res5Dilations(r: ResNet): number[] {
  return r.stages[3].toArray().map((b) => (b as BottleneckBlock).conv2.dilation[0]);
}

describe('DC5 styles', () => {
  it("detectron2 ('all') dilates every res5 block; torchvision ('after_first') keeps block 0 at dilation 1", () => {
    seedEverything(0);
    const d2 = new ResNet({ depth: 50, out_features: ['res5'], res5_dilation: 2 });
    seedEverything(0);
    const tv = new ResNet({ depth: 50, out_features: ['res5'], res5_dilation: 2, dc5_style: 'after_first' });
    expect(res5Dilations(d2)).toEqual([2, 2, 2]);
    expect(res5Dilations(tv)).toEqual([1, 2, 2]);
    // Same parameters (names and shapes), same stride 16, different outputs (the first block's receptive field).
    expect([...tv.stateDictShapes()]).toEqual([...d2.stateDictShapes()]);
    tv.loadStateDict(d2.stateDict());
    const x = tf.randomNormal([1, 48, 48, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const a = d2.forward(x).res5;
    const b = tv.forward(x).res5;
    expect(a.shape).toEqual([1, 3, 3, 2048]);
    expect(b.shape).toEqual([1, 3, 3, 2048]);
    expect(tf.max(tf.abs(a.sub(b))).dataSync()[0]).toBeGreaterThan(1e-3);
    d2.dispose();
    tv.dispose();
  });

  it('rejects an unknown style', () => {
    expect(() => new ResNet({ depth: 50, res5_dilation: 2, dc5_style: 'x' as never })).toThrow(/dc5_style/);
  });
});
