import { describe, expect, it } from 'vitest';
import { listParts, register, resolvePart, registerPart } from '../src/container';

@register('testloss', 'focal')
class FocalLoss {
  constructor(readonly opts: { alpha?: number }) {}
}

@register('testloss', 'ia_bce')
class IABCELoss {
  constructor(readonly opts: { alpha?: number }) {}
}

describe('registry', () => {
  it('resolves registered parts by kind/name and by bare name within a kind', () => {
    expect(resolvePart('testloss/focal')).toBe(FocalLoss);
    expect(resolvePart('ia_bce', 'testloss')).toBe(IABCELoss);
    expect(listParts('testloss')).toEqual(['focal', 'ia_bce']);
  });

  it('fails on unknown names with the list of known names of that kind', () => {
    expect(() => resolvePart('testloss/vfl')).toThrow(/unknown part "testloss\/vfl".*testloss\/focal, testloss\/ia_bce/);
    expect(() => resolvePart('nokind/x')).toThrow(/known kinds: .*testloss/);
  });

  it('refuses to bind one id to two different targets', () => {
    class Other {}
    expect(() => registerPart('testloss', 'focal', Other)).toThrow(/already registered to FocalLoss/);
    expect(() => registerPart('testloss', 'focal', FocalLoss)).not.toThrow();
  });
});
