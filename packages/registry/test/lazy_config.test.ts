import { describe, expect, it } from 'vitest';
import {
  applyOverrides,
  cloneConfig,
  derived,
  extendConfig,
  formatConfig,
  instantiate,
  L,
  register,
  resolveConfig,
  type ConfigNode,
} from '../src/index';

const built: string[] = [];

class Matcher {
  constructor(readonly opts: { costClass: number; costBbox: number }) {
    built.push('matcher');
  }
}

@register('testcrit', 'set')
class Criterion {
  constructor(readonly opts: { numClasses: number; matcher: Matcher; weightDict: Record<string, number> }) {
    built.push('criterion');
  }
}

@register('testcrit', 'other')
class OtherCriterion {
  constructor(readonly opts: Record<string, unknown>) {}
}

class Detector {
  constructor(readonly opts: { numClasses: number; criterion: Criterion; numLayers: number }) {
    built.push('detector');
  }
}

function auxWeights(base: Record<string, number>, n: number): Record<string, number> {
  const out = { ...base };
  for (let i = 0; i < n - 1; i++) for (const [k, v] of Object.entries(base)) out[`${k}_${i}`] = v;
  return out;
}

function makeConfig(): ConfigNode {
  return {
    model: L(Detector)({
      numClasses: 80,
      numLayers: 3,
      criterion: L('testcrit/set')({
        numClasses: '${..numClasses}',
        matcher: L(Matcher)({ costClass: 2, costBbox: 5 }),
        baseWeights: { loss_class: 1, loss_bbox: 5 },
        weightDict: derived(({ node, root }) => auxWeights(node.baseWeights as Record<string, number>, (root.model as ConfigNode).numLayers as number), 'aux weight dict'),
      }),
    }),
    train: { max_iter: 100, output_dir: './output/x', lr_steps: derived(({ node }) => [Math.floor((node.max_iter as number) * 0.9)], 'LR milestones') },
  };
}

describe('lazy configs', () => {
  it('L() builds nothing; instantiate builds children before parents', () => {
    built.length = 0;
    const cfg = makeConfig();
    expect(built).toEqual([]);
    const r = resolveConfig(cfg);
    const model = instantiate<Detector>(r.model);
    expect(built).toEqual(['matcher', 'criterion', 'detector']);
    expect(model.opts.criterion).toBeInstanceOf(Criterion);
    expect(model.opts.criterion.opts.matcher).toBeInstanceOf(Matcher);
  });

  it('resolves relative references like ${..num_classes}', () => {
    const r = resolveConfig(makeConfig());
    const model = instantiate<Detector>(r.model);
    expect(model.opts.criterion.opts.numClasses).toBe(80);
  });

  it('recomputes derived values after overrides', () => {
    const cfg = applyOverrides(makeConfig(), ['model.numLayers=2', 'train.max_iter=1000', 'model.numClasses=20']);
    const r = resolveConfig(cfg);
    const model = instantiate<Detector>(r.model);
    expect(model.opts.criterion.opts.numClasses).toBe(20);
    expect(Object.keys(model.opts.criterion.opts.weightDict).sort()).toEqual(['loss_bbox', 'loss_bbox_0', 'loss_class', 'loss_class_0']);
    expect((r.train as ConfigNode).lr_steps).toEqual([900]);
  });

  it('does not mutate the original config when overriding', () => {
    const cfg = makeConfig();
    applyOverrides(cfg, ['model.numClasses=3']);
    expect((cfg.model as ConfigNode).numClasses).toBe(80);
  });

  it('parses numbers, booleans, strings, lists', () => {
    const cfg: ConfigNode = { a: { n: 1, b: false, s: 'x', l: [1, 2], ls: ['a'], f: 0.1 } };
    const o = applyOverrides(cfg, ['a.n=3e-4', 'a.b=true', 'a.s=hello world', 'a.l=[4, 5, 6]', "a.ls=['p', 'q']", 'a.f=-2']);
    expect(o.a).toEqual({ n: 3e-4, b: true, s: 'hello world', l: [4, 5, 6], ls: ['p', 'q'], f: -2 });
  });

  it('an unknown path fails naming the path and the nearest valid keys', () => {
    expect(() => applyOverrides(makeConfig(), ['model.criterion.nonexistent=1'])).toThrow(
      /model\.criterion has no key "nonexistent"; nearest valid keys: .*valid keys: _target_, numClasses, matcher, baseWeights, weightDict/,
    );
    expect(() => applyOverrides(makeConfig(), ['model.criterion.matchr.costClass=1'])).toThrow(/model\.criterion has no key "matchr"; nearest valid keys: matcher/);
    expect(() => applyOverrides(makeConfig(), ['modle.numClasses=1'])).toThrow(/<root> has no key "modle"; nearest valid keys: model/);
  });

  it('a value of the wrong type fails naming the path', () => {
    expect(() => applyOverrides(makeConfig(), ['model.numLayers=abc'])).toThrow(/override model\.numLayers: expected a number, got string "abc"/);
    expect(() => applyOverrides(makeConfig(), ['model.criterion.matcher=3'])).toThrow(/model\.criterion\.matcher: this is a lazy config node/);
    expect(() => applyOverrides({ a: { l: [1] } }, ['a.l=3'])).toThrow(/expected a list/);
    expect(() => applyOverrides(makeConfig(), ['model.numClasses'])).toThrow(/expected key=value/);
  });

  it('+key adds a new key; plain key does not', () => {
    const o = applyOverrides(makeConfig(), ['+model.criterion.extra=5']);
    expect((((o.model as ConfigNode).criterion as ConfigNode).extra)).toBe(5);
  });

  it('swaps a part by a one-line _target_ override with a registry name', () => {
    const o = applyOverrides(makeConfig(), ['model.criterion._target_=other']);
    const model = instantiate<Detector>(resolveConfig(o).model);
    expect(model.opts.criterion).toBeInstanceOf(OtherCriterion);
    expect(() => applyOverrides(makeConfig(), ['model.criterion._target_=nonesuch'])).toThrow(/unknown part "testcrit\/nonesuch".*testcrit\/other, testcrit\/set/);
  });

  it('reports reference errors and cycles clearly', () => {
    expect(() => resolveConfig({ a: { x: '${..nope}' } })).toThrow(/<root> has no key "nope"/);
    expect(() => resolveConfig({ a: '${b}', b: '${a}' })).toThrow(/reference cycle/);
  });

  it('interpolates references inside strings', () => {
    expect(resolveConfig({ name: 'k2', dir: './output/${name}_run' }).dir).toBe('./output/k2_run');
  });

  it('wraps constructor errors with the config path', () => {
    class Bad {
      constructor() {
        throw new Error('boom');
      }
    }
    expect(() => instantiate({ model: { sub: L(Bad)({}) } })).toThrow(/instantiate model\.sub \(Bad\): boom/);
  });

  it('extendConfig merges nodes and keeps the base intact', () => {
    const base = makeConfig();
    const child = extendConfig(base, { model: { numClasses: 10, criterion: { matcher: { costClass: 1 } } } });
    expect((base.model as ConfigNode).numClasses).toBe(80);
    const m = instantiate<Detector>(resolveConfig(child).model);
    expect(m.opts.numClasses).toBe(10);
    expect(m.opts.criterion.opts.matcher.opts).toEqual({ costClass: 1, costBbox: 5 });
    expect(cloneConfig(base)).not.toBe(base);
  });

  it('prints the resolved tree with registry ids and class names', () => {
    const text = formatConfig(resolveConfig(makeConfig()));
    expect(text).toContain('model:\n  _target_: Detector\n  numClasses: 80');
    expect(text).toContain('  criterion:\n    _target_: testcrit/set\n    numClasses: 80');
    expect(text).toContain('    weightDict:\n      loss_class: 1\n      loss_bbox: 5\n      loss_class_0: 1');
    expect(text).toContain('  lr_steps: [90]');
  });
});
