import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Conv2d, FrozenBatchNorm2d, Linear, MLP, Module, ModuleList, formatLoadReport, seedEverything } from '../src/index';

class Block extends Module {
  readonly conv: Conv2d;
  readonly norm: FrozenBatchNorm2d;
  constructor() {
    super();
    this.conv = this.registerModule('conv1', new Conv2d(3, 4, 3, { padding: 1, bias: false }));
    this.norm = this.registerModule('norm', new FrozenBatchNorm2d(4));
  }
}

class Net extends Module {
  readonly head: Linear;
  readonly shared: Linear;
  constructor() {
    super();
    this.registerModule('body', new ModuleList([new Block(), new Block()]));
    this.head = this.registerModule('head', new Linear(4, 2));
    this.registerModule('mlp', new MLP(2, 8, 3, 2));
    // A tied module under two names, like detrex's class_embed / transformer.decoder.class_embed.
    this.shared = this.registerModule('class_embed', new Linear(3, 3));
    const dec = new (class Dec extends Module {})();
    this.registerModule('decoder', dec);
    (dec as unknown as { registerModule: (n: string, m: Module) => void }).registerModule('class_embed', this.shared);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Module', () => {
  it('names parameters and buffers as PyTorch state-dict keys, in registration order', () => {
    const net = new Net();
    const keys = [...net.stateDict().keys()];
    expect(keys).toEqual([
      'body.0.conv1.weight',
      'body.0.norm.weight',
      'body.0.norm.bias',
      'body.0.norm.running_mean',
      'body.0.norm.running_var',
      'body.1.conv1.weight',
      'body.1.norm.weight',
      'body.1.norm.bias',
      'body.1.norm.running_mean',
      'body.1.norm.running_var',
      'head.weight',
      'head.bias',
      'mlp.layers.0.weight',
      'mlp.layers.0.bias',
      'mlp.layers.1.weight',
      'mlp.layers.1.bias',
      'class_embed.weight',
      'class_embed.bias',
      'decoder.class_embed.weight',
      'decoder.class_embed.bias',
    ]);
    // namedParameters: each parameter once, buffers excluded (FrozenBN has only buffers).
    expect(net.namedParameters().map(([n]) => n)).toEqual([
      'body.0.conv1.weight',
      'body.1.conv1.weight',
      'head.weight',
      'head.bias',
      'mlp.layers.0.weight',
      'mlp.layers.0.bias',
      'mlp.layers.1.weight',
      'mlp.layers.1.bias',
      'class_embed.weight',
      'class_embed.bias',
    ]);
    net.dispose();
  });

  it('round-trips the state dict (native and torch layouts) into a fresh model', () => {
    seedEverything(1);
    const a = new Net();
    seedEverything(2);
    const b = new Net();
    const wa = a.stateDict().get('head.weight')!.arraySync();
    expect(b.stateDict().get('head.weight')!.arraySync()).not.toEqual(wa);
    b.loadStateDict(a.stateDict());
    for (const [k, t] of a.stateDict()) expect(b.stateDict().get(k)!.arraySync()).toEqual(t.arraySync());

    // Torch layout: Linear [out,in], conv OIHW.
    const torchSd = a.stateDict('torch');
    expect(torchSd.get('head.weight')!.shape).toEqual([2, 4]);
    expect(torchSd.get('body.0.conv1.weight')!.shape).toEqual([4, 3, 3, 3]);
    expect(torchSd.get('head.weight')!.arraySync()).toEqual(tf.transpose(a.head.weight).arraySync());
    seedEverything(3);
    const c = new Net();
    c.loadStateDict(torchSd, { layout: 'torch' });
    for (const [k, t] of a.stateDict()) expect(c.stateDict().get(k)!.arraySync()).toEqual(t.arraySync());
    // Outputs agree too.
    const x = tf.randomNormal([1, 4]);
    expect(c.head.forward(x).arraySync()).toEqual(a.head.forward(x).arraySync());
    for (const t of torchSd.values()) t.dispose();
    [a, b, c].forEach((m) => m.dispose());
  });

  it('strict loading lists missing, unexpected and mismatched keys; non-strict reports them', () => {
    const net = new Net();
    const sd = new Map<string, tf.Tensor>([
      ['head.weight', tf.zeros([4, 2])],
      ['head.bias', tf.zeros([5])],
      ['not.a.key', tf.zeros([1])],
    ]);
    expect(() => net.loadStateDict(sd)).toThrow(/missing keys \(18\): body\.0\.conv1\.weight.*\nunexpected keys \(1\): not\.a\.key\nshape mismatches \(1\): head\.bias: expected \[2\] got \[5\]/s);
    const report = net.loadStateDict(sd, { strict: false });
    expect(report.loaded).toEqual(['head.weight']);
    expect(report.unexpected).toEqual(['not.a.key']);
    expect(report.shapeMismatch).toEqual([{ key: 'head.bias', expected: [2], got: [5] }]);
    expect(report.missing).toHaveLength(18);
    expect(formatLoadReport(report)).toMatch(/^loaded 1 tensors/);
    expect(net.head.weight.arraySync()).toEqual(tf.zeros([4, 2]).arraySync());
    net.dispose();
  });

  it('loading one key of a tied module updates it under both names', () => {
    const net = new Net();
    net.loadStateDict(new Map([['decoder.class_embed.bias', tf.tensor([1, 2, 3])]]), { strict: false });
    expect(net.stateDict().get('class_embed.bias')!.arraySync()).toEqual([1, 2, 3]);
    net.dispose();
  });

  it('train/eval mode and freezing propagate through the tree', () => {
    const net = new Net();
    expect(net.namedModules().every(([, m]) => m.training)).toBe(true);
    net.eval();
    expect(net.namedModules().some(([, m]) => m.training)).toBe(false);
    const nAll = net.trainableVariables().length;
    (net.namedModules().find(([n]) => n === 'body')![1]).freeze();
    expect(net.trainableVariables().map((v) => v.name)).not.toContain('body.0.conv1.weight');
    expect(net.trainableVariables().length).toBe(nAll - 2);
    expect(net.numParameters(true)).toBe(net.numParameters() - 2 * 4 * 3 * 3 * 3);
    net.dispose();
  });

  it('rejects duplicate and dotted names', () => {
    class Bad extends Module {
      constructor(dup: boolean) {
        super();
        this.registerModule('a', new Linear(1, 1));
        if (dup) this.registerParameter('a', tf.zeros([1]));
        else this.registerParameter('b.c', tf.zeros([1]));
      }
    }
    expect(() => new Bad(true)).toThrow(/"a" is already registered/);
    expect(() => new Bad(false)).toThrow(/must not contain '\.'/);
  });
});
