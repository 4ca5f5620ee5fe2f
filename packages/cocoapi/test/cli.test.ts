import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli';
import { referenceCase } from './reference-cases';

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe('cocoapi-ts eval', () => {
  const c = referenceCase('random_small');
  it('prints the pycocotools summary', () => {
    const r = run(['eval', '--gt', c.gtPath, '--dt', c.dtPath]);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n')).toEqual(c.cats.summary);
    expect(r.err).toMatch(/category ids not in the ground truth were not evaluated: 999/);
  });
  it('--json prints stats and per-category stats', () => {
    const r = run(['eval', '--gt', c.gtPath, '--dt', c.dtPath, '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as { stats: number[]; per_category: Record<string, { name: string; stats: number[] }> };
    parsed.stats.forEach((v, i) => expect(Math.abs(v - c.cats.stats[i])).toBeLessThanOrEqual(1e-6));
    expect(Object.keys(parsed.per_category).sort()).toEqual(Object.keys(c.cats.per_category!).sort());
    expect(parsed.per_category['7'].name).toBe('c7');
    parsed.per_category['7'].stats.forEach((v, i) => expect(Math.abs(v - c.cats.per_category!['7'][i])).toBeLessThanOrEqual(1e-6));
  });
  it('--no-cats pools categories', () => {
    const r = run(['eval', '--gt', c.gtPath, '--dt', c.dtPath, '--json', '--no-cats']);
    (JSON.parse(r.out) as { stats: number[] }).stats.forEach((v, i) => expect(Math.abs(v - c.pooled!.stats[i])).toBeLessThanOrEqual(1e-6));
  });
  it('bad input exits 1 with the error, bad usage exits 2', () => {
    const missing = run(['eval', '--gt', '/nonexistent/gt.json', '--dt', c.dtPath]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/error: ground-truth file not found: \/nonexistent\/gt\.json/);
    expect(run(['eval', '--gt', c.gtPath]).code).toBe(2);
    expect(run(['evaluate']).code).toBe(2);
    expect(run(['eval', '--bogus']).code).toBe(2);
  });
  it('bin/cocoapi-ts.js runs the CLI through node', () => {
    const bin = fileURLToPath(new URL('../bin/cocoapi-ts.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'eval', '--gt', c.gtPath, '--dt', c.dtPath, '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { stats: number[] }).stats[0]).toBeCloseTo(c.cats.stats[0], 6);
  });
});
