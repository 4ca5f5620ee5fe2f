/** Option checks shared by the DAB-DETR parts (configs pass plain snake_case objects). */
import { PReLU } from '@detr/core';
import type { FfnActivation } from '@detr/transformers';

/** Throws naming `where` and the valid keys if `opts` has a key outside `known` (a typo in a config). */
export function checkKnownOptions(opts: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) throw new Error(`${where}: unknown option "${key}" (valid options: ${known.join(', ')})`);
  }
}

/** A positive integer option, else an error naming it. */
export function positiveInt(value: unknown, name: string, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`${where}: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A dropout probability in [0, 1). */
export function probability(value: unknown, name: string, where: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw new Error(`${where}: ${name} must be a number in [0, 1), got ${JSON.stringify(value)}`);
  return value;
}

/** The FFN activation of a config: 'prelu' (detrex's `L(nn.PReLU)()`), 'relu', or a module factory. */
export type ActivationOption = 'prelu' | 'relu' | (() => FfnActivation);

/**
 * As FFN's `activation` option: 'relu' or a factory called once per FFN (detrex deep-copies the given
 * nn.PReLU into every layer, so each layer owns its `ffns.0.layers.0.1.weight`).
 */
export function ffnActivation(value: ActivationOption | undefined, where: string): 'relu' | (() => FfnActivation) {
  const v = value ?? 'prelu';
  if (v === 'prelu') return () => new PReLU();
  if (v === 'relu' || typeof v === 'function') return v;
  throw new Error(`${where}: activation must be 'prelu', 'relu' or a factory of an activation module, got ${JSON.stringify(v)}`);
}
