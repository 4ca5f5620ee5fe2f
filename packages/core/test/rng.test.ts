import { describe, expect, it } from 'vitest';
import { Rng } from '../src/rng';

describe('Rng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xa);
  });

  it('saves and restores its full state (exact resume), including the spare normal', () => {
    const r = new Rng(7);
    r.normal();
    const state = JSON.parse(JSON.stringify(r.getState()));
    const next = [r.normal(), r.uniform(), r.int(0, 100)];
    const r2 = Rng.fromState(state);
    expect([r2.normal(), r2.uniform(), r2.int(0, 100)]).toEqual(next);
  });

  it('has the right moments and ranges', () => {
    const r = new Rng(1);
    const n = 20000;
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[r.int(0, 6)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    for (let i = 0; i < 1000; i++) {
      const u = r.random();
      expect(u >= 0 && u < 1).toBe(true);
    }
  });

  it('forks independent, reproducible child streams without advancing the parent', () => {
    const r = new Rng(9);
    const before = r.getState();
    const f1 = r.fork('aug').nextUint32();
    expect(r.getState()).toEqual(before);
    expect(r.fork('aug').nextUint32()).toBe(f1);
    expect(r.fork('dn').nextUint32()).not.toBe(f1);
  });

  it('shuffles into a permutation', () => {
    const p = new Rng(3).permutation(50);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
