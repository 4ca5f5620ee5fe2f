/**
 * Guard of issue 6 item 5: one training step of every project's small config (its default config, a
 * `configs/*_small_mnist.ts`, found through tools/cli_common.ts) runs on the wasm backend with no kernel missing,
 * none falling back to another backend (no kernel dispatched elsewhere, no tensor copied between
 * backends) and no kernel without a gradient on the gradient path. The step is the trainer's (forward
 * with the losses, tf.variableGrads, gradient clipping, AdamW) as launch() builds it from the config,
 * followed by one eval-mode `predict`, all under `auditBackendStep` (auditKernels + those checks).
 *
 * The configs are used as they are (no shrink: a step of each takes 1-4 s here), on a synthetic batch of
 * two 96 x 96 images, the second one padded. A first test shows the audit can fail: a kernel missing
 * on wasm (Einsum), a kernel without a gradient on the gradient path, a computation that falls back to
 * cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEverything, withBackend } from '@detr/core';
import { auditBackendStep, stepAuditProblems, useTestBackend } from '@detr/core/testing';
import { Trainer, type AdamW, type Batch, type ParamScheduler, type TrainableDetector } from '@detr/engine';
import { instantiate, loadConfigFile, resolveConfig } from '@detr/registry';
import { defaultConfigFile, listProjectConfigs, PROJECTS } from '../cli_common';

/**
 * Side of the synthetic images: the smallest training size of the MNIST data (96 px), which H-Deformable-
 * DETR's small config needs (its 180 proposals are drawn from the 193 encoder tokens of a 96 px image).
 */
const SIZE = 96;

/**
 * The small config of a project: its default config (package.json "detr.defaultConfig"), which must be a
 * top-level `*_small_mnist` config (a project may have more, e.g. dab-detr's Align-DETR variant).
 */
function smallConfigFile(project: string): string {
  const file = defaultConfigFile(project);
  const small = listProjectConfigs(project).filter((n) => /^[^/]*_small_mnist$/.test(n));
  if (!small.some((n) => file.endsWith(`/configs/${n}.ts`))) {
    throw new Error(`project ${project}: the default config ${file} is not one of its configs/*_small_mnist.ts (${small.join(', ') || 'none'})`);
  }
  return file;
}

/** Two SIZE x SIZE images (image 1 valid in its top-left 72 x 60, the rest padding), 3 + 1 objects. */
function syntheticBatch(numClasses: number): Batch {
  const valid: [number, number][] = [[SIZE, SIZE], [72, 60]];
  return tf.tidy(() => {
    const rows = tf.range(0, SIZE).reshape([SIZE, 1]);
    const cols = tf.range(0, SIZE).reshape([1, SIZE]);
    const pad1 = tf.logicalOr(rows.greaterEqual(valid[1][0]), cols.greaterEqual(valid[1][1]));
    return {
      images: tf.randomNormal([2, SIZE, SIZE, 3], 0, 1, 'float32', 5),
      masks: tf.stack([tf.zeros([SIZE, SIZE], 'bool'), pad1]),
      targets: [
        { labels: Int32Array.from([0, 2 % numClasses, 1 % numClasses]), boxes: Float32Array.from([0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.4, 0.5, 0.5, 0.6, 0.5]) },
        { labels: Int32Array.from([numClasses - 1]), boxes: Float32Array.from([0.3, 0.35, 0.3, 0.3]) },
      ],
      imageIds: [1, 2],
      imageSizes: valid,
      origSizes: valid,
    } as unknown as tf.TensorContainer;
  }) as unknown as Batch;
}

beforeAll(async () => {
  await useTestBackend('wasm');
});

afterAll(() => {
  tf.removeBackend('wasm'); // ends the wasm worker threads, if any
});

describe('auditBackendStep can fail', () => {
  it('flags a kernel missing on wasm, a gradient-path kernel without gradient, a fallback to cpu; a clean closure has no problem', async () => {
    const missing = await auditBackendStep(() => tf.tidy(() => tf.einsum('ij,jk->ik', tf.ones([2, 3]), tf.ones([3, 2]))));
    expect(missing.missing.wasm).toEqual(['Einsum']);
    expect(missing.error?.message).toMatch(/Einsum/);
    expect(stepAuditProblems(missing, 'einsum')).toContain('einsum: kernel Einsum is missing on wasm');

    // Cumprod runs on wasm but tfjs 4.22 registers no gradient for it.
    expect(tf.getGradient('Cumprod')).toBeUndefined();
    const noGrad = await auditBackendStep(() => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.cumprod(x).sum())(tf.ones([3]))));
    expect(noGrad.missing.wasm).toEqual([]);
    expect(noGrad.gradientMissing).toEqual(['Cumprod']);
    expect(stepAuditProblems(noGrad, 'cumprod')).toContain('cumprod: kernel Cumprod is on a gradient path but has no gradient');

    // A part that computes on cpu: its kernels run there and its result is copied back to wasm.
    const x = tf.ones([4]);
    const fallback = await auditBackendStep(async () => {
      const y = await withBackend('cpu', () => tf.exp(x));
      const z = tf.add(y, 1);
      y.dispose();
      return z;
    });
    expect(fallback.ranElsewhere).toContainEqual({ kernel: 'Exp', backend: 'cpu' });
    expect(fallback.moves.map((m) => `${m.from}->${m.to}`)).toContain('wasm->cpu');
    const problems = stepAuditProblems(fallback, 'cpu part');
    expect(problems).toContain('cpu part: kernel Exp fell back to the cpu backend');
    expect(problems.some((p) => /tensor\(s\) copied wasm -> cpu/.test(p))).toBe(true);
    x.dispose();
    expect(tf.getBackend()).toBe('wasm');

    const clean = await auditBackendStep(() => tf.tidy(() => tf.grad((v: tf.Tensor) => tf.exp(v).sum())(tf.ones([3]))));
    expect(stepAuditProblems(clean, 'exp')).toEqual([]);
    expect(clean.kernels).toEqual(expect.arrayContaining(['Exp', 'Sum', 'Multiply']));
  });
});

describe("one training step + predict of every project's small config on wasm", () => {
  it('finds a small config for every project', () => {
    expect(PROJECTS.length).toBeGreaterThanOrEqual(5);
    for (const p of PROJECTS) expect(smallConfigFile(p)).toMatch(/_small_mnist\.ts$/);
  });

  it.each(PROJECTS)('%s: no kernel missing, falling back, or without a needed gradient', async (project) => {
    const file = smallConfigFile(project);
    const resolved = resolveConfig(await loadConfigFile(file)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    seedEverything(3);
    const model = instantiate<TrainableDetector>(resolved.model);
    const optimizer = instantiate<AdamW>({ ...resolved.optimizer, params: { ...resolved.optimizer.params, model } });
    const scheduler = instantiate<ParamScheduler>(resolved.lr_multiplier);
    const numClasses = Number(resolved.model.num_classes);
    const clip = resolved.train.clip_grad;
    const trainer = new Trainer({
      model,
      optimizer,
      loader: { next: () => syntheticBatch(numClasses), getState: () => null, setState: () => undefined },
      scheduler,
      max_iter: Number(resolved.train.max_iter),
      clip_grad: clip?.enabled ? { enabled: true, max_norm: Number(clip.params?.max_norm ?? 0.1), norm_type: Number(clip.params?.norm_type ?? 2) } : undefined,
    });
    let losses: Record<string, number> = {};
    let gradNorm = NaN;
    let detections = 0;
    try {
      const audit = await auditBackendStep(() => {
        model.train();
        const step = trainer.runStep();
        losses = step.losses;
        gradNorm = step.gradNorm;
        model.eval();
        const batch = syntheticBatch(numClasses);
        try {
          detections = model.predict(batch).length;
        } finally {
          tf.dispose([batch.images, batch.masks]);
        }
      });
      expect(stepAuditProblems(audit, `${project} (${file.slice(file.indexOf('projects/'))})`)).toEqual([]);
      // The step really trained: a conv backbone, attention matmuls, finite losses and a gradient.
      expect(audit.kernels).toEqual(expect.arrayContaining(['Conv2D', 'BatchMatMul']));
      expect(Object.values(losses).length).toBeGreaterThan(3);
      expect(Object.values(losses).every(Number.isFinite)).toBe(true);
      expect(gradNorm).toBeGreaterThan(0);
      expect(detections).toBe(2);
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  });
});
