/**
 * Speed of @detr/matchers' linear sum assignment against scipy's C solver on DETR-like cost matrices.
 *
 *   npx tsx bench/linear_sum_assignment.ts [--rounds 3] [--matrices 10] [--no-python]
 *
 * Cases (rows = queries, cols = ground-truth boxes, as the Hungarian matcher passes them to scipy):
 *   - 900x100: DINO (900 queries, 100 GT boxes), with random queries and with trained-like ones
 *     (80% of the queries are noisy copies of a GT box with raised logits for its class, so many
 *     queries compete for each GT and the augmenting paths get longer);
 *   - 1800x600: H-DETR's one-to-many branch (1800 queries, 100 GT boxes repeated 6 times, so the
 *     columns come in tied groups of 6);
 *   - 1800x600 untiled: 600 distinct GT boxes (no ties).
 * Cost = 2 * focal class cost + 5 * L1(cxcywh) + 2 * (-GIoU) with alpha 0.25, gamma 2, as in detrex's
 * HungarianMatcher (detrex/modeling/matcher/matcher.py, focal_loss_cost branch).
 *
 * scipy is timed in a python3 child process on the very same matrices (written to a temporary file),
 * alternating with our rounds so that load from other work hits both alike. Reported: median ms per
 * solve over all matrices and rounds, as wall time (per solve) and as process CPU time (per batch of
 * solves; steadier on a shared machine), and the ratios ours / scipy. Without python3 + scipy only
 * our figures are printed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linearSumAssignment, linearSumAssignmentFlat } from '../packages/matchers/src/linear_sum_assignment';

interface Case {
  name: string;
  queries: number;
  gts: number;
  repeats: number;
  /** Queries as a trained detector gives them: most are noisy copies of some ground truth. */
  trained?: boolean;
}

const CASES: Case[] = [
  { name: '900x100 (DINO)', queries: 900, gts: 100, repeats: 1 },
  { name: '900x100 (DINO, trained-like: queries cluster on the GT boxes)', queries: 900, gts: 100, repeats: 1, trained: true },
  { name: '1800x600 (H-DETR one-to-many, 100 GT x 6)', queries: 1800, gts: 100, repeats: 6 },
  { name: '1800x600 (600 distinct GT)', queries: 1800, gts: 600, repeats: 1 },
];

function argValue(flag: string, fallback: number): number {
  const k = process.argv.indexOf(flag);
  return k >= 0 ? Number(process.argv[k + 1]) : fallback;
}
const ROUNDS = argValue('--rounds', 3);
const MATRICES = argValue('--matrices', 10);
const USE_PYTHON = !process.argv.includes('--no-python');

/** xorshift-multiply PRNG (mulberry32), uniform in [0, 1). */
function makeRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A DETR-like [queries, gts * repeats] matching cost, row-major. */
function detrCost(seed: number, queries: number, gts: number, repeats: number, trained = false): Float64Array {
  const rand = makeRng(seed);
  const numClasses = 91;
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));
  const box = (): number[] => [rand(), rand(), 0.02 + 0.4 * rand(), 0.02 + 0.4 * rand()];
  const gt = Array.from({ length: gts }, box);
  const labels = Array.from({ length: gts }, () => Math.floor(rand() * numClasses));
  // A trained-like query copies a random GT box with noise and believes in its class.
  const target = Array.from({ length: queries }, () => (trained && rand() < 0.8 ? Math.floor(rand() * gts) : -1));
  const pred = target.map((g) => {
    if (g < 0) return box();
    const [cx, cy, w, h] = gt[g];
    return [clamp(cx + 0.05 * normal(), 0, 1), clamp(cy + 0.05 * normal(), 0, 1), clamp(w * (1 + 0.2 * normal()), 0.01, 1), clamp(h * (1 + 0.2 * normal()), 0.01, 1)];
  });
  // Focal class cost per (query, class): pos - neg of detrex's matcher with alpha 0.25, gamma 2.
  const classCost = new Float64Array(queries * numClasses);
  for (let q = 0; q < queries; q++) {
    for (let k = 0; k < numClasses; k++) {
      const believed = target[q] >= 0 && labels[target[q]] === k;
      const p = 1 / (1 + Math.exp(-(normal() * 1.5 + (believed ? 1 : -3))));
      const neg = 0.75 * p * p * -Math.log(1 - p + 1e-8);
      const pos = 0.25 * (1 - p) * (1 - p) * -Math.log(p + 1e-8);
      classCost[q * numClasses + k] = pos - neg;
    }
  }
  const cols = gts * repeats;
  const cost = new Float64Array(queries * cols);
  for (let q = 0; q < queries; q++) {
    const [pcx, pcy, pw, ph] = pred[q];
    const [px0, py0, px1, py1] = [pcx - pw / 2, pcy - ph / 2, pcx + pw / 2, pcy + ph / 2];
    for (let g = 0; g < gts; g++) {
      const [gcx, gcy, gw, gh] = gt[g];
      const [gx0, gy0, gx1, gy1] = [gcx - gw / 2, gcy - gh / 2, gcx + gw / 2, gcy + gh / 2];
      const inter = Math.max(0, Math.min(px1, gx1) - Math.max(px0, gx0)) * Math.max(0, Math.min(py1, gy1) - Math.max(py0, gy0));
      const union = pw * ph + gw * gh - inter;
      const hull = (Math.max(px1, gx1) - Math.min(px0, gx0)) * (Math.max(py1, gy1) - Math.min(py0, gy0));
      const giou = inter / union - (hull - union) / hull;
      const l1 = Math.abs(pcx - gcx) + Math.abs(pcy - gcy) + Math.abs(pw - gw) + Math.abs(ph - gh);
      const c = 5 * l1 + 2 * classCost[q * numClasses + labels[g]] - 2 * giou;
      for (let r = 0; r < repeats; r++) cost[q * cols + r * gts + g] = c;
    }
  }
  return cost;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

interface Timings {
  wall: number[]; // ms per solve, one per solve
  cpu: number[]; // process CPU ms per solve, one per batch of `reps` solves (robust to other load)
}

/** Times `solve` on each matrix: one warm-up, then `reps` solves. */
function timeOurs(solve: (k: number) => unknown, count: number, reps: number, into: Timings): void {
  for (let k = 0; k < count; k++) {
    solve(k);
    const cpu0 = process.cpuUsage();
    for (let r = 0; r < reps; r++) {
      const t0 = process.hrtime.bigint();
      solve(k);
      into.wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const cpu = process.cpuUsage(cpu0);
    into.cpu.push((cpu.user + cpu.system) / 1000 / reps);
  }
}

const PYTHON_TIMER = `
import sys, time, numpy as np
from scipy.optimize import linear_sum_assignment
path, rows, cols, count, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
data = np.fromfile(path, dtype='<f8').reshape(count, rows, cols)
totals, wall, cpu = [], [], []
for c in data:
    r, k = linear_sum_assignment(c)
    totals.append(float(c[r, k].sum()))
    c0 = time.process_time()
    for _ in range(reps):
        t0 = time.perf_counter(); linear_sum_assignment(c); wall.append((time.perf_counter() - t0) * 1e3)
    cpu.append((time.process_time() - c0) * 1e3 / reps)
print(' '.join(map(repr, wall))); print(' '.join(map(repr, cpu))); print(' '.join(map(repr, totals)))
`;

function timeScipy(file: string, rows: number, cols: number, count: number, reps: number, into: Timings): number[] | null {
  const run = spawnSync('python3', ['-c', PYTHON_TIMER, file, String(rows), String(cols), String(count), String(reps)], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (run.error || run.status !== 0) {
    console.log(`  (scipy not timed: ${run.error?.message ?? run.stderr.trim().split('\n').pop()})`);
    return null;
  }
  const [wallLine, cpuLine, totalLine] = run.stdout.trim().split('\n');
  into.wall.push(...wallLine.split(' ').map(Number));
  into.cpu.push(...cpuLine.split(' ').map(Number));
  return totalLine.split(' ').map(Number);
}

const fmt = (t: Timings): string => `${median(t.wall).toFixed(3)} ms wall, ${median(t.cpu).toFixed(3)} ms cpu`;

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-bench-'));
  try {
    console.log(`linear sum assignment: ${MATRICES} matrices per case, ${ROUNDS} alternating rounds, median ms per solve`);
    for (const [caseIndex, c] of CASES.entries()) {
      const rows = c.queries;
      const cols = c.gts * c.repeats;
      const matrices = Array.from({ length: MATRICES }, (_, k) => detrCost(1000 * caseIndex + k + 1, rows, c.gts, c.repeats, c.trained));
      const nested = matrices.map((m) => Array.from({ length: rows }, (_, r) => Array.from(m.subarray(r * cols, (r + 1) * cols))));
      const reps = rows * cols > 500_000 ? 3 : 10;

      const file = join(dir, `case${caseIndex}.f64`);
      const all = new Float64Array(MATRICES * rows * cols);
      matrices.forEach((m, k) => all.set(m, k * rows * cols));
      writeFileSync(file, Buffer.from(all.buffer));

      const flatTimes: Timings = { wall: [], cpu: [] };
      const nestedTimes: Timings = { wall: [], cpu: [] };
      const scipyTimes: Timings = { wall: [], cpu: [] };
      let scipyTotals: number[] | null = null;
      for (let round = 0; round < ROUNDS; round++) {
        timeOurs((k) => linearSumAssignmentFlat(matrices[k], rows, cols), MATRICES, reps, flatTimes);
        timeOurs((k) => linearSumAssignment(nested[k]), MATRICES, reps, nestedTimes);
        if (USE_PYTHON) scipyTotals = timeScipy(file, rows, cols, MATRICES, reps, scipyTimes) ?? scipyTotals;
      }

      // The totals must agree with scipy's optimum (a benchmark of a wrong answer is worthless).
      let worst = 0;
      if (scipyTotals) {
        matrices.forEach((m, k) => {
          const [r, col] = linearSumAssignmentFlat(m, rows, cols);
          let total = 0;
          for (let i = 0; i < r.length; i++) total += m[r[i] * cols + col[i]];
          worst = Math.max(worst, Math.abs(total - scipyTotals![k]) / Math.max(1, Math.abs(scipyTotals![k])));
        });
      }

      console.log(`\n${c.name}`);
      console.log(`  linearSumAssignmentFlat            ${fmt(flatTimes)}`);
      console.log(`  linearSumAssignment (number[][])   ${fmt(nestedTimes)}`);
      if (scipyTimes.wall.length > 0) {
        console.log(`  scipy.optimize.linear_sum_assignment ${fmt(scipyTimes)}`);
        const wallRatio = median(flatTimes.wall) / median(scipyTimes.wall);
        const cpuRatio = median(flatTimes.cpu) / median(scipyTimes.cpu);
        console.log(`  ratio ours/scipy: ${wallRatio.toFixed(2)}x wall, ${cpuRatio.toFixed(2)}x cpu (target <= 1.5x)`);
        console.log(`  max relative difference of optimal totals vs scipy: ${worst.toExponential(1)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
