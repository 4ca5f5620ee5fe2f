/**
 * Comparing a loss and its gradients between two runs of the same computation (e.g. with and without
 * activation checkpointing). Plain Errors, no vitest import (usable from scripts too).
 */
import * as tf from '@tensorflow/tfjs';

export interface LossAndGradients {
  loss: number;
  /** Per variable name (in the order given); undefined where the loss does not reach the variable. */
  grads: Record<string, Float32Array | undefined>;
}

/** The loss and its gradient with respect to each named variable, read back and disposed. */
export function lossAndGradients(vars: { name: string; variable: tf.Variable }[], loss: () => tf.Scalar): LossAndGradients {
  const { value, grads } = tf.variableGrads(loss, vars.map((v) => v.variable));
  const out: Record<string, Float32Array | undefined> = {};
  for (const v of vars) out[v.name] = grads[v.variable.name]?.dataSync() as Float32Array | undefined;
  const l = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss: l, grads: out };
}

/**
 * Throws unless `b` has `a`'s loss to `lossDigits` decimals (|a - b| < 10^-lossDigits / 2, as vitest's
 * toBeCloseTo), the same variables in the same order with gradients in the same places, and every
 * gradient element within `rtol` times the largest |element| of `a`'s gradient for that variable.
 * Returns the number of gradients compared.
 */
export function expectSameLossAndGradients(a: LossAndGradients, b: LossAndGradients, opts: { lossDigits: number; rtol: number }): number {
  if (!(Math.abs(b.loss - a.loss) < 10 ** -opts.lossDigits / 2)) throw new Error(`loss ${b.loss} differs from ${a.loss} at ${opts.lossDigits} decimals`);
  const names = Object.keys(a.grads);
  if (Object.keys(b.grads).join('\n') !== names.join('\n')) throw new Error(`variables differ: [${Object.keys(b.grads)}] vs [${names}]`);
  let compared = 0;
  for (const name of names) {
    const g = a.grads[name];
    const h = b.grads[name];
    if ((g === undefined) !== (h === undefined)) throw new Error(`${name}: a gradient in one run only`);
    if (!g || !h) continue;
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
    for (let i = 0; i < g.length; i++) {
      const err = Math.abs(h[i] - g[i]) / scale;
      if (!(err < opts.rtol)) throw new Error(`${name}[${i}]: ${h[i]} vs ${g[i]} (error ${err.toExponential(2)} of the largest |gradient|, above ${opts.rtol})`);
    }
    compared++;
  }
  return compared;
}
