/**
 * ResNet structure beyond the R50 fixture: parameter counts against torchvision's published totals
 * (resnet18 11,689,512; resnet101 44,549,160, fc included; ResNet-50's exact keys and shapes are
 * checked against the fixture manifests, and ResNet-34 differs from ResNet-18 only by its block counts), output channels and
 * strides, stride_in_1x1, freeze_at semantics, the GN norm option, registry construction, and errors.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, instantiate, L, resolveConfig, resolvePart } from '@detr/registry';
import { BottleneckBlock, ResNet, type ResNetDepth } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** torchvision's ResNet parameter count (BN weight/bias are parameters there; fc = C*1000 + 1000). */
function torchvisionStyleCount(model: ResNet): number {
  let n = 0;
  for (const [key, shape] of model.stateDictShapes('torch')) {
    if (key.endsWith('.running_mean') || key.endsWith('.running_var')) continue;
    n += shape.reduce((a, b) => a * b, 1);
  }
  const lastChannels = model.outputShape().res5.channels;
  return n + lastChannels * 1000 + 1000;
}

describe('ResNet structure', () => {
  it.each([
    [18, 11_689_512],
    [101, 44_549_160],
  ])('ResNet-%i has the parameter count of torchvision (%i)', (depth, published) => {
    const model = new ResNet({ depth: depth as ResNetDepth, out_features: ['res5'] });
    expect(torchvisionStyleCount(model)).toBe(published);
    model.dispose();
  });

  it('ResNet-18 outputs 64/128/256/512 channels at strides 4/8/16/32 (BasicBlock, shortcut only where channels change)', () => {
    const model = new ResNet({ depth: 18, out_features: ['stem', 'res2', 'res3', 'res4', 'res5'] });
    expect(model.outputShape()).toEqual({
      stem: { channels: 64, stride: 4 },
      res2: { channels: 64, stride: 4 },
      res3: { channels: 128, stride: 8 },
      res4: { channels: 256, stride: 16 },
      res5: { channels: 512, stride: 32 },
    });
    const keys = [...model.stateDictShapes().keys()];
    expect(keys.filter((k) => k.endsWith('shortcut.weight'))).toEqual(['res3.0.shortcut.weight', 'res4.0.shortcut.weight', 'res5.0.shortcut.weight']);
    const x = tf.zeros([1, 38, 26, 3]) as tf.Tensor4D; // odd sizes: PyTorch's floor((H + 2p - k) / s) + 1 chain
    const out = model.forward(x);
    expect(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.shape]))).toEqual({
      stem: [1, 10, 7, 64],
      res2: [1, 10, 7, 64],
      res3: [1, 5, 4, 128],
      res4: [1, 3, 2, 256],
      res5: [1, 2, 1, 512],
    });
    tf.dispose([x, ...Object.values(out)]);
    model.dispose();
  });

  it('builds only the stages up to the last requested output (detrex)', () => {
    const model = new ResNet({ depth: 18, out_features: ['res3'] });
    expect(model.stageNames).toEqual(['res2', 'res3']);
    expect([...model.stateDictShapes().keys()].some((k) => k.startsWith('res4'))).toBe(false);
    model.dispose();
  });

  it('stride_in_1x1 moves the stride from the 3x3 to the first 1x1 conv', () => {
    const torchvisionStyle = new BottleneckBlock({ in_channels: 8, out_channels: 16, bottleneck_channels: 4, stride: 2 });
    const msraStyle = new BottleneckBlock({ in_channels: 8, out_channels: 16, bottleneck_channels: 4, stride: 2, stride_in_1x1: true });
    expect([torchvisionStyle.conv1.stride, torchvisionStyle.conv2.stride]).toEqual([[1, 1], [2, 2]]);
    expect([msraStyle.conv1.stride, msraStyle.conv2.stride]).toEqual([[2, 2], [1, 1]]);
    expect(msraStyle.shortcut?.stride).toEqual([2, 2]);
    torchvisionStyle.dispose();
    msraStyle.dispose();
  });

  it('freeze_at freezes the stem (1), then res2 (2), ... (parameters only; FrozenBN tensors are buffers)', () => {
    const model = new ResNet({ depth: 18, out_features: ['res5'], freeze_at: 1 });
    const all = model.namedParameters().map(([name]) => name);
    expect(all.length).toBe(20); // 1 stem conv + 8 blocks x 2 convs + 3 shortcuts
    expect(all.every((n) => n.endsWith('.weight') && !n.includes('norm'))).toBe(true);
    expect(model.namedBuffers().length).toBe(80); // 4 per FrozenBN
    const cases: [number, string[]][] = [
      [1, ['stem']],
      [-1, []],
      [0, []],
      [2, ['stem', 'res2']],
      [4, ['stem', 'res2', 'res3', 'res4']],
      [5, ['stem', 'res2', 'res3', 'res4', 'res5']],
    ];
    cases.forEach(([freezeAt, frozen], i) => {
      if (i > 0) model.requiresGrad(true).freezeAt(freezeAt); // case 0 is the constructor's freeze_at
      const trainable = new Set(model.trainableVariables().map((v) => v.name));
      for (const name of all) expect(trainable.has(name), `freeze_at=${freezeAt}: ${name}`).toBe(!frozen.includes(name.split('.')[0]));
    });
    model.dispose();
  });

  it("norm 'GN' gives trainable GroupNorm(32) parameters under the same keys", () => {
    const model = new ResNet({ depth: 18, out_features: ['res2'], norm: 'GN' });
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toContain('res2.0.conv1.norm.weight');
    expect(names).toContain('stem.conv1.norm.bias');
    expect(model.namedBuffers()).toEqual([]);
    model.dispose();
  });

  it('is registered as backbone/resnet and builds from a lazy config with overrides', () => {
    expect(resolvePart('backbone/resnet')).toBe(ResNet);
    const cfg = { model: { backbone: L('backbone/resnet')({ depth: 50, out_features: ['res3', 'res4', 'res5'], freeze_at: 1 }) } };
    const resolved = resolveConfig(applyOverrides(cfg, ['model.backbone.depth=18', "model.backbone.out_features=['res4']"]));
    const model = instantiate<ResNet>((resolved.model as { backbone: never }).backbone);
    expect(model).toBeInstanceOf(ResNet);
    expect(model.depth).toBe(18);
    expect(model.outputShape()).toEqual({ res4: { channels: 256, stride: 16 } });
    model.dispose();
  });

  it('rejects bad options and inputs with errors naming them', () => {
    expect(() => new ResNet({ depth: 20 as ResNetDepth })).toThrow(/depth must be one of 18, 34, 50, 101, 152, got 20/);
    expect(() => new ResNet({ depth: 18, res5_dilation: 2 })).toThrow(/res5_dilation must be 1 for ResNet-18/);
    expect(() => new ResNet({ depth: 18, out_features: ['res6' as never] })).toThrow(/unknown out_features entry "res6"/);
    expect(() => new ResNet({ depth: 18, freezeAt: 1 } as never)).toThrow(/unknown option "freezeAt" \(valid options: depth, out_features, freeze_at/);
    expect(() => new ResNet({ depth: 18, out_features: ['stem'], freeze_at: 7 })).toThrow(/freeze_at must be an integer in \[-1, 5\], got 7/);
    expect(() => new ResNet({ depth: 18, norm: 'BN' as never })).toThrow(/unknown norm "BN" \(supported: "FrozenBN", "GN", ""\)/);
    const model = new ResNet({ depth: 18, out_features: ['stem'] });
    const nchw = tf.zeros([1, 3, 32, 32]) as tf.Tensor4D;
    expect(() => model.forward(nchw)).toThrow(/ResNet\.forward: expected an NHWC tensor \[B, H, W, 3\], got \[1, 3, 32, 32\]/);
    nchw.dispose();
    model.dispose();
  });
});
