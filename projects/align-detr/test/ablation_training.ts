/**
 * Shared body of the ablation training tests: each row's config file, shrunk to test size
 * (shrink.ts), is instantiated as launch() would and trained one step on wasm; the losses must be
 * finite with a non-zero gradient, and the built detector and criterion must carry the row's setting.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedEverything, selectBackend } from '@detr/core';
import { IABCELoss, QualityFocalLoss, SigmoidFocalLoss, VarifocalLoss, type AlignDETRCriterion } from '@detr/criteria';
import { applyOverrides, loadConfigFile, resolveConfig } from '@detr/registry';
import { REPO_ROOT } from '../../../tools/cli_common';
import { ablationRows, type AblationRow, type AblationTable } from '../configs/ablations/_rows';
import { AlignDETR, IoUBranchDETR } from '../src/index';
import { R50_TEST_SHRINK, trainOneStep } from './shrink';

const LOSS_CLASSES: Record<string, unknown> = { 'loss/sigmoid_focal': SigmoidFocalLoss, 'loss/qfl': QualityFocalLoss, 'loss/vfl': VarifocalLoss };

/** detrex's loss keys of a 6-layer two-stage DN model: final, _0.._4, _enc, _dn, _dn_0.._dn_4. */
function expectedLossKeys(iouBranch: boolean): string[] {
  const suffixes = ['', '_0', '_1', '_2', '_3', '_4', '_enc', '_dn', '_dn_0', '_dn_1', '_dn_2', '_dn_3', '_dn_4'];
  const keys = suffixes.flatMap((s) => ['loss_class', 'loss_bbox', 'loss_giou'].map((k) => k + s));
  if (iouBranch) keys.push(...['', '_0', '_1', '_2', '_3', '_4'].map((s) => `loss_iou${s}`));
  return keys.sort();
}

function expectBuiltRow(model: unknown, row: AblationRow): void {
  const s = row.settings;
  expect(model).toBeInstanceOf(s.iou_branch ? IoUBranchDETR : AlignDETR);
  if (s.iou_branch) expect((model as IoUBranchDETR).iouScoreWeight).toBe(s.iou_branch.iou_score_weight);
  const criterion = (model as AlignDETR).criterion as unknown as AlignDETRCriterion;
  expect(criterion.matchNum).toEqual([...Array(6).fill(s.k ?? 3), 1]);
  expect(criterion.tau).toBe(s.tau ?? 1.5);
  if (s.class_loss) {
    expect(criterion.classLoss).toBeInstanceOf(LOSS_CLASSES[s.class_loss._target_] as new () => unknown);
  } else {
    const loss = criterion.classLoss as IABCELoss;
    expect(loss).toBeInstanceOf(IABCELoss);
    expect([loss.alpha, loss.gamma, loss.wPos.text, loss.wNeg.text, loss.wBg.text]).toEqual([s.alpha ?? 0.25, 2, s.w_pos ?? 't', s.w_neg ?? '1-t', 's^gamma']);
  }
}

/** Registers one test per row of the given tables. */
export function oneStepPerRow(tables: AblationTable[]): void {
  beforeAll(async () => {
    await selectBackend({ backend: 'wasm', threads: 1, log: () => {} });
  });
  afterAll(() => {
    tf.removeBackend('wasm'); // ends the wasm worker threads
  });
  const rows = ablationRows().filter((r) => tables.includes(r.table));
  it.each(rows.map((r) => [r.name, r] as const))('%s: instantiates from its config and trains one step', async (name, row) => {
    const file = join(REPO_ROOT, 'projects/align-detr/configs/ablations', `${name}.ts`);
    const resolved = resolveConfig(applyOverrides(await loadConfigFile(file), R50_TEST_SHRINK));
    seedEverything(7);
    const { model, step } = trainOneStep(resolved);
    try {
      expectBuiltRow(model, row);
      expect(Object.keys(step.losses).sort()).toEqual(expectedLossKeys(!!row.settings.iou_branch));
      const bad = Object.entries(step.losses).filter(([, v]) => !Number.isFinite(v));
      expect(bad).toEqual([]);
      expect(step.gradNorm).toBeGreaterThan(0);
      expect(Number.isFinite(step.gradNorm)).toBe(true);
    } finally {
      model.dispose();
    }
  });
}
