// docs/new-variant.md shows working code: its `file=` blocks are written into a scratch copy of the
// project they describe (under the repository's ignored tmp/, with configs/common linked in), the
// config is loaded, built and trained one step (wasm); its `excerpt=` blocks must appear verbatim in
// the source file they quote.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEverything, selectBackend } from '@detr/core';
import { IABCELoss, ManyToOneCriterion } from '@detr/criteria';
import { DABDETR } from '@detr/dab-detr';
import { MixedMatcher } from '@detr/matchers';
import { applyOverrides, configToPlain, loadConfigFile, resolveConfig } from '@detr/registry';
import { REPO_ROOT } from '../../../tools/cli_common';
import { trainOneStep } from './shrink';

const DOC = readFileSync(join(REPO_ROOT, 'docs/new-variant.md'), 'utf8');
const blocks = (attr: 'file' | 'excerpt') => [...DOC.matchAll(new RegExp('```\\w+ ' + attr + '=(\\S+)\\n([\\s\\S]*?)```', 'g'))].map((m) => ({ path: m[1], text: m[2] }));

const scratch = join(REPO_ROOT, 'tmp', `new-variant-doc-${process.pid}`);

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', threads: 1, log: () => {} });
  mkdirSync(scratch, { recursive: true });
  // The doc's configs import the shared configs as ../../../configs/common/...: link them in.
  symlinkSync(join(REPO_ROOT, 'configs'), join(scratch, 'configs'), 'dir');
  for (const { path, text } of blocks('file')) {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), text);
  }
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  tf.removeBackend('wasm');
});

describe('docs/new-variant.md', () => {
  it('has the example project files: package.json, project.json and a config', () => {
    const paths = blocks('file').map((b) => b.path);
    expect(paths).toEqual(['projects/align-dab-example/package.json', 'projects/align-dab-example/project.json', 'projects/align-dab-example/configs/align_dab_small_mnist.ts']);
    const pkg = JSON.parse(blocks('file')[0].text);
    expect(pkg.detr.defaultConfig).toBe('configs/align_dab_small_mnist.ts');
    expect(JSON.parse(blocks('file')[1].text).targets.train.options.command).toBe('tsx tools/train_net.ts --project align-dab-example');
  });

  it("the example config builds DAB-DETR with Align-DETR's criterion and trains one step", async () => {
    const cfg = await loadConfigFile(join(scratch, 'projects/align-dab-example/configs/align_dab_small_mnist.ts'));
    // The derived match_num follows the decoder depth after an override, as the doc says.
    const deeper = configToPlain(resolveConfig(applyOverrides(cfg, ['model.transformer.decoder.num_layers=4']))) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(deeper.model.criterion.match_num).toEqual([1, 2, 2, 2, 1]);
    seedEverything(11);
    const { model, step } = trainOneStep(resolveConfig(cfg));
    try {
      expect(model).toBeInstanceOf(DABDETR);
      const criterion = (model as unknown as DABDETR).criterion as unknown as ManyToOneCriterion;
      expect(criterion).toBeInstanceOf(ManyToOneCriterion);
      expect(criterion.matcher).toBeInstanceOf(MixedMatcher);
      expect(criterion.classLoss).toBeInstanceOf(IABCELoss);
      expect([criterion.matchNum, criterion.tau]).toEqual([[1, 2, 2, 1], 1.5]);
      expect(Object.keys(step.losses).sort()).toEqual(['', '_0', '_1'].flatMap((s) => ['loss_bbox', 'loss_class', 'loss_giou'].map((k) => k + s)).sort());
      expect(Object.values(step.losses).every(Number.isFinite)).toBe(true);
      expect(step.gradNorm).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });

  it('quotes the IoU-branch variant verbatim from its source file', () => {
    const excerpts = blocks('excerpt');
    expect(excerpts.length).toBeGreaterThanOrEqual(4);
    for (const { path, text } of excerpts) {
      const source = readFileSync(join(REPO_ROOT, path), 'utf8');
      expect(source.includes(text), `${path} does not contain:\n${text}`).toBe(true);
    }
  });
});
