import { describe, expect, it } from 'vitest';
import { cocoScheduler, CosineParamScheduler, MultiStepParamScheduler, WarmupParamScheduler } from '../src/index';

describe('LR schedules (fvcore semantics)', () => {
  it('multi-step: detrex 12ep = 1.0 until 82,500 of 90,000, then 0.1', () => {
    const s = new MultiStepParamScheduler({ values: [1.0, 0.1], milestones: [82500, 90000] });
    expect(s.numUpdates).toBe(90000);
    expect(s.milestones).toEqual([82500]);
    expect(s.at(0)).toBe(1);
    expect(s.at(82499 / 90000)).toBe(1);
    expect(s.at(82500 / 90000)).toBeCloseTo(0.1);
    expect(s.at(89999 / 90000)).toBeCloseTo(0.1);
  });

  it('multi-step with num_updates and equispaced defaults', () => {
    const s = new MultiStepParamScheduler({ values: [1, 0.1, 0.01], num_updates: 90 });
    expect(s.milestones).toEqual([30, 60]);
    expect([s.at(0.33), s.at(0.34), s.at(0.67)]).toEqual([1, 0.1, 0.01]);
    expect(() => new MultiStepParamScheduler({ values: [1, 0.1], milestones: [5, 3] })).toThrow(/milestone 5 must be smaller than the number of updates 3/);
    expect(() => new MultiStepParamScheduler({ values: [1, 0.1, 0.01], milestones: [5] })).toThrow(/1 milestones for 3 values/);
  });

  it('warmup ramps linearly from factor*start to the scheduled value', () => {
    const base = new MultiStepParamScheduler({ values: [1, 0.1], milestones: [90, 100] });
    const w = new WarmupParamScheduler({ scheduler: base, warmup_factor: 0.001, warmup_length: 0.1 });
    expect(w.at(0)).toBeCloseTo(0.001);
    expect(w.at(0.05)).toBeCloseTo(0.001 + (1 - 0.001) * 0.5);
    expect(w.at(0.1)).toBe(1);
    expect(w.at(0.95)).toBeCloseTo(0.1);
  });

  it('coco schedule is defined on fractions of max_iter', () => {
    const s = cocoScheduler({ epochs: 12, decay_epochs: 11 });
    for (const maxIter of [90000, 3000, 120]) {
      const drop = Math.round((11 / 12) * maxIter);
      expect(s.at((drop - 1) / maxIter)).toBe(1);
      expect(s.at((drop + 1) / maxIter)).toBeCloseTo(0.1);
    }
  });

  it('cosine goes from start to end', () => {
    const c = new CosineParamScheduler({ start_value: 1, end_value: 0 });
    expect(c.at(0)).toBe(1);
    expect(c.at(0.5)).toBeCloseTo(0.5);
    expect(c.at(1)).toBeCloseTo(0);
  });
});
