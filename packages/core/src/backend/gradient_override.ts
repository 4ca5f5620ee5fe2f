/**
 * Backend-aware gradient overrides. tf.registerGradient is global (one gradient per kernel name for
 * every backend), so an override keeps the upstream (tfjs-core) gradient and uses it on the backends
 * the fast version is not meant for (e.g. tfjs-node's 'tensorflow', whose native backprop kernels are
 * fast). Where tfjs has no gradient at all, the override is used everywhere.
 */
import * as tf from '@tensorflow/tfjs';

export type GradFunc = tf.GradConfig['gradFunc'];

export interface GradientOverride {
  kernelName: string;
  /** Backends whose gradient is this override; 'all' for every backend. */
  backends: readonly string[] | 'all';
  inputsToSave?: string[];
  outputsToSave?: boolean[];
  gradFunc: GradFunc;
  /** Why it exists (listed by fastKernelList / docs/performance.md). */
  why: string;
  /**
   * Replaces tfjs's gradient on every backend (it saves different tensors, so the upstream one cannot
   * serve as the fallback): for gradients that are exactly tfjs's maths from less saved state.
   */
  replacesUpstream?: boolean;
}

interface Installed {
  override: GradientOverride;
  upstream: tf.GradConfig | null;
}

const installed = new Map<string, Installed>();
let fastGradientsEnabled = true;

/**
 * Turns the overrides off (false: every kernel that has an upstream gradient uses it) or back on.
 * For tests and benchmarks that compare against tfjs's own gradients; returns the previous value.
 */
export function setFastGradientsEnabled(enabled: boolean): boolean {
  const prev = fastGradientsEnabled;
  fastGradientsEnabled = enabled;
  return prev;
}

export function fastGradientsAreEnabled(): boolean {
  return fastGradientsEnabled;
}

function sameList<T>(a: T[] | undefined, b: T[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Whether `kernelName`'s override applies on `backendName` right now. */
export function overrideActive(kernelName: string, backendName = tf.getBackend()): boolean {
  const entry = installed.get(kernelName);
  if (!entry) return false;
  if (!entry.upstream) return true;
  if (!fastGradientsEnabled) return false;
  const { backends } = entry.override;
  return backends === 'all' || backends.includes(backendName);
}

/** Registers (idempotently) a gradient override, keeping the upstream gradient as the fallback. */
export function installGradientOverride(override: GradientOverride): void {
  const { kernelName } = override;
  if (installed.has(kernelName)) return;
  const current = override.replacesUpstream ? null : (tf.getGradient(kernelName) ?? null);
  const upstream = current ? { ...current } : null;
  if (upstream && (!sameList(upstream.inputsToSave, override.inputsToSave) || !sameList(upstream.outputsToSave, override.outputsToSave))) {
    // The saved tensors are chosen at record time from the registered config, so both gradients
    // must read the same list (tfjs 4.22.0 layout).
    throw new Error(
      `gradient override for ${kernelName}: upstream saves inputs [${upstream.inputsToSave ?? []}] outputs [${upstream.outputsToSave ?? []}], ` +
        `the override [${override.inputsToSave ?? []}] [${override.outputsToSave ?? []}] (tfjs-core changed since 4.22.0?)`,
    );
  }
  installed.set(kernelName, { override, upstream });
  tf.registerGradient({
    kernelName,
    inputsToSave: override.inputsToSave,
    outputsToSave: override.outputsToSave,
    gradFunc: (dy, saved, attrs) =>
      upstream && !overrideActive(kernelName) ? upstream.gradFunc(dy, saved, attrs) : override.gradFunc(dy, saved, attrs),
  });
}

export interface InstalledOverrideInfo {
  kernelName: string;
  backends: readonly string[] | 'all';
  hasUpstream: boolean;
  why: string;
}

export function installedGradientOverrides(): InstalledOverrideInfo[] {
  return [...installed.values()].map(({ override, upstream }) => ({
    kernelName: override.kernelName,
    backends: upstream ? override.backends : 'all',
    hasUpstream: upstream != null,
    why: override.why,
  }));
}
