/**
 * Parameter initialisers with PyTorch's formulas (torch/nn/init.py), drawing from the seeded Rng.
 * Fans are computed on the PyTorch layout of the parameter (see layout.ts), so a Linear stored
 * [in, out] gets the same bounds as PyTorch's [out, in].
 */
import * as tf from '@tensorflow/tfjs';
import { getGlobalRng, type Rng } from '../rng';
import { fans, type ParamLayout } from './layout';
import type { Parameter } from './parameter';

type Target = Parameter | { variable: tf.Variable; layout: ParamLayout };

function fill(target: Target, values: Float32Array): void {
  tf.tidy(() => target.variable.assign(tf.tensor(values, target.variable.shape, 'float32')));
}

/** U(lo, hi) values of a shape (row-major). */
export function uniformValues(shape: readonly number[], lo: number, hi: number, rng: Rng = getGlobalRng()): Float32Array {
  return rng.uniformArray(shape.reduce((a, b) => a * b, 1), lo, hi);
}

export function uniform_(p: Target, lo: number, hi: number, rng: Rng = getGlobalRng()): void {
  fill(p, uniformValues(p.variable.shape, lo, hi, rng));
}

export function normal_(p: Target, mean = 0, std = 1, rng: Rng = getGlobalRng()): void {
  fill(p, rng.normalArray(p.variable.size, mean, std));
}

export function constant_(p: Target, value: number): void {
  fill(p, new Float32Array(p.variable.size).fill(value));
}

export function zeros_(p: Target): void {
  constant_(p, 0);
}

export function ones_(p: Target): void {
  constant_(p, 1);
}

/** xavier_uniform_: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform_(p: Target, gain = 1, rng: Rng = getGlobalRng()): void {
  const { fanIn, fanOut } = fans(p.layout, p.variable.shape);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  uniform_(p, -a, a, rng);
}

/** xavier_normal_: N(0, std), std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal_(p: Target, gain = 1, rng: Rng = getGlobalRng()): void {
  const { fanIn, fanOut } = fans(p.layout, p.variable.shape);
  normal_(p, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), rng);
}

/**
 * kaiming_uniform_ (fan_in mode, leaky_relu gain with slope a): bound = gain * sqrt(3 / fan_in),
 * gain = sqrt(2 / (1 + a^2)). With a = sqrt(5) this is PyTorch's default for Linear and Conv weights,
 * bound = 1 / sqrt(fan_in).
 */
export function kaimingUniform_(p: Target, a = 0, rng: Rng = getGlobalRng()): void {
  const { fanIn } = fans(p.layout, p.variable.shape);
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn);
  uniform_(p, -bound, bound, rng);
}

/** kaiming_normal_ (fan_out mode, relu), as detectron2's c2_msra_fill for conv weights. */
export function kaimingNormalFanOut_(p: Target, rng: Rng = getGlobalRng()): void {
  const { fanOut } = fans(p.layout, p.variable.shape);
  normal_(p, 0, Math.sqrt(2 / fanOut), rng);
}

/** PyTorch's default bias init for Linear / Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultBias_(bias: Target, fanIn: number, rng: Rng = getGlobalRng()): void {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  uniform_(bias, -bound, bound, rng);
}
