// The IA-BCE family's config variants (Align-DETR Table B rows, Table 4's VFL and QFL) against float64
// references written from the papers' formulas here, with finite-difference gradients of them.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, RTOL } from '@detr/core/testing';
import { IABCELoss, QualityFocalLoss, VarifocalLoss, type ClassificationLoss, type Positives } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// logits [2, 4, 3]; positives at three entries with targets t and rank weights w.
const SHAPE: [number, number, number] = [2, 4, 3];
const LOGITS = Float64Array.from({ length: 24 }, (_, i) => Math.fround(Math.sin(1.7 * i + 0.3) * 3));
const POS: Positives = {
  entries: Int32Array.from([1, 9, 17, 22]),
  quality: Float32Array.from([0.62, 0.35, 0.81, 0]),
  weight: Float32Array.from([1, 0.5134171, 1, 1]),
};
const NUM_BOXES = 3;

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const logS = (x: number) => -Math.log1p(Math.exp(-x));
const log1mS = (x: number) => -Math.log1p(Math.exp(x));

/** sum_e (matched ? -wPos*log s - wNeg*log(1-s) : -wBg*log(1-s)) / numBoxes, in float64. */
function reference(x: Float64Array, weights: (t: number | null, s: number) => [number, number]): number {
  const target = new Map<number, number>();
  POS.entries.forEach((e, i) => target.set(e, Math.fround(POS.quality[i] * POS.weight![i])));
  let sum = 0;
  for (let e = 0; e < x.length; e++) {
    const [wPos, wNeg] = weights(target.has(e) ? target.get(e)! : null, sig(x[e]));
    sum += -wPos * logS(x[e]) - wNeg * log1mS(x[e]);
  }
  return sum / NUM_BOXES;
}

function numericGrad(f: (x: Float64Array) => number, x: Float64Array): Float64Array {
  const g = new Float64Array(x.length);
  const h = 1e-6;
  for (let i = 0; i < x.length; i++) {
    const up = Float64Array.from(x);
    const down = Float64Array.from(x);
    up[i] += h;
    down[i] -= h;
    g[i] = (f(up) - f(down)) / (2 * h);
  }
  return g;
}

function check(loss: ClassificationLoss, weights: (t: number | null, s: number) => [number, number], label: string): void {
  const logits = tf.tensor3d(Float32Array.from(LOGITS), SHAPE);
  const f = (l: tf.Tensor) => loss.forward({ logits: l, positives: POS, numBoxes: NUM_BOXES });
  const value = f(logits);
  const ref = (x: Float64Array) => reference(x, weights);
  expectClose(value, [ref(LOGITS)], RTOL.loss, `${label} loss`);
  const grad = tf.grad(f)(logits);
  expectClose(grad, numericGrad(ref, LOGITS), RTOL.grad, `${label} gradient`);
  tf.dispose([logits, value, grad]);
}

const bg = (s: number) => s * s; // s^gamma, gamma = 2

describe('IA-BCE Table B variants (w_pos, w_neg) on matched entries, s^gamma on the others', () => {
  const rows: [string, string, (t: number, s: number) => [number, number]][] = [
    ['1', '0', () => [1, 0]],
    ['t', '0', (t) => [t, 0]],
    ['(t-s)^2', '(t-s)^2', (t, s) => [(t - s) ** 2, (t - s) ** 2]],
    ['(t-s)^2', '(1-t)s^2', (t, s) => [(t - s) ** 2, (1 - t) * s * s]],
    ['t', '1-t', (t) => [t, 1 - t]],
  ];
  for (const [wPos, wNeg, fn] of rows) {
    it(`(${wPos}, ${wNeg})`, () => {
      check(new IABCELoss({ w_pos: wPos, w_neg: wNeg }), (t, s) => (t === null ? [0, bg(s)] : fn(t, s)), `(${wPos}, ${wNeg})`);
    });
  }

  it('quality t = max(s^alpha * IoU^(1-alpha), 0.01)', () => {
    const t = new IABCELoss({ alpha: 0.25 }).quality(Float64Array.from([0.9, 0.2, 0.5]), Float64Array.from([0.7, 0, 1e-7]));
    expectClose(t, [Math.fround(0.9 ** 0.25 * 0.7 ** 0.75), 0.01, 0.01], RTOL.activation, 'quality');
  });

  it('rejects malformed weight expressions naming the option', () => {
    expect(() => new IABCELoss({ w_pos: '(t-x)^2' })).toThrow(/IABCELoss w_pos: unknown symbol "x" in "\(t-x\)\^2"/);
    expect(() => new IABCELoss({ w_neg: '(1-t' })).toThrow(/IABCELoss w_neg: missing "\)"/);
    expect(() => new IABCELoss({ alpha: 0.25, w_pos: 't', focal: true } as never)).toThrow(/unknown option "focal"/);
  });
});

describe('Table 4 related methods', () => {
  it('VFL: -q(q log s + (1-q) log(1-s)) for q > 0, -0.75 s^2 log(1-s) otherwise (incl. a matched q = 0)', () => {
    check(new VarifocalLoss({}), (q, s) => (q !== null && q > 0 ? [q * q, q * (1 - q)] : [0, 0.75 * s * s]), 'VFL');
  });

  for (const beta of [1, 2]) {
    it(`QFL beta ${beta}: -|y-s|^beta ((1-y) log(1-s) + y log s), y = 0 off the matched entries`, () => {
      check(new QualityFocalLoss({ beta }), (y, s) => {
        const q = y ?? 0;
        const scale = Math.abs(q - s) ** beta;
        return [scale * q, scale * (1 - q)];
      }, `QFL beta ${beta}`);
    });
  }

  it('VFL and QFL target the IoU itself', () => {
    const iou = Float64Array.from([0.3, 0.8]);
    expect(Array.from(new VarifocalLoss({}).quality(Float64Array.from([0.9, 0.1]), iou))).toEqual(Array.from(Float32Array.from(iou)));
    expect(Array.from(new QualityFocalLoss({}).quality(Float64Array.from([0.9, 0.1]), iou))).toEqual(Array.from(Float32Array.from(iou)));
  });
});
