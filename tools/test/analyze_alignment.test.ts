/**
 * tools/analyze_alignment.ts through its command line: it loads the weights named by
 * train.init_checkpoint (here a tiny Align-DETR initialised with another seed than the config's, so an
 * ignored checkpoint would show), and its alignment.json equals the metrics computed in this process by
 * analyzeDetector on the same model and images; the PNGs are written; missing weights are a clear error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEverything, type Module } from '@detr/core';
import { HungarianMatcher } from '@detr/matchers';
import { applyOverrides, instantiate, loadConfigFile, resolveConfig, runAsyncSetup } from '@detr/registry';
import { analyzeDetector, Checkpointer, matcherCostsFromConfig, type AnalyzableDetector, type EvalLoader } from '@detr/engine';

const REPO = resolve(__dirname, '../..');
const CONFIG = join(REPO, 'projects/align-detr/configs/aligndetr_small_mnist.ts');
const tmp = mkdtempSync(join(tmpdir(), 'analyze-alignment-'));

/** Tiny model and data (see reproduce.test.ts): 32-d transformer, 10 queries, 64 px test images, 4 val images. */
const TINY = [
  'model.num_queries=10',
  'model.dn_number=4',
  'model.select_box_nums_for_evaluation=10',
  'model.embed_dim=32',
  'model.position_embedding.num_pos_feats=16',
  'model.neck.out_channels=32',
  'model.neck.norm_layer.num_channels=32',
  'model.neck.norm_layer.num_groups=8',
  'model.transformer.encoder.num_layers=1',
  ...['encoder', 'decoder'].flatMap((p) => [`model.transformer.${p}.embed_dim=32`, `model.transformer.${p}.feedforward_dim=64`]),
  ...['train', 'test'].flatMap((s) => [`dataloader.${s}.dataset.num_train=8`, `dataloader.${s}.dataset.num_val=4`, `+dataloader.${s}.dataset.cache_dir=${join(tmp, 'cache')}`]),
  'dataloader.test.transforms.short=64',
  'dataloader.test.transforms.max=96',
  'dataloader.test.batch_size=2',
  `train.output_dir=${join(tmp, 'train')}`,
];

function analyze(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/analyze_alignment.ts', '--project', 'align-detr', '--backend', 'cpu', ...args], { cwd: REPO, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

let weights = '';
let expected: ReturnType<ReturnType<typeof analyzeDetector>['alignment']['report']>;
let expectedAP = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const resolved = resolveConfig(applyOverrides(await loadConfigFile(CONFIG), TINY)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  await runAsyncSetup(resolved);
  seedEverything(7); // the CLI builds the model with seed 42, then loads these weights
  const model = instantiate<Module>(resolved.model) as unknown as AnalyzableDetector;
  const state = model.stateDict() as Map<string, tf.Tensor>;
  weights = new Checkpointer(join(tmp, 'weights')).save('seed7', { model: state, state: {} });
  const res = analyzeDetector(model, instantiate<EvalLoader>(resolved.dataloader.test), { matcher: new HungarianMatcher(matcherCostsFromConfig(resolved)), max_images: 3 });
  expected = res.alignment.report();
  expectedAP = res.evaluation!.named.AP;
  model.dispose();
}, 120_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('analyze_alignment', () => {
  it("writes alignment.json equal to the in-process metrics of the checkpoint's model, and the figures", () => {
    const out = join(tmp, 'analysis');
    const r = analyze(['--max-images', '3', '--output-dir', out, ...TINY, `train.init_checkpoint=${weights}`]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/\[checkpoint\] loaded seed7\.safetensors/);
    const file = JSON.parse(readFileSync(join(out, 'alignment.json'), 'utf8'));
    expect(file.num_images).toBe(3);
    expect(file.matcher).toEqual({ cost_class: 2, cost_bbox: 5, cost_giou: 2 });
    expect(file.alignment.num_gt).toBe(expected.num_gt);
    expect(file.alignment.recall).toEqual(expected.recall);
    expect(file.alignment.matched.pearson).toBe(expected.matched.pearson);
    expect(file.alignment.br_iou.histogram).toEqual(expected.br_iou.histogram);
    expect(file.alignment.hc_iou.mean).toBe(expected.hc_iou.mean);
    expect(file.bbox.AP).toBe(expectedAP);
    for (const png of ['iou_histogram.png', 'br_recall.png', 'confidence_iou_density.png']) expect(existsSync(join(out, png))).toBe(true);
    expect(r.out).toMatch(/recall of best-regressed samples \(max_class\): top-N/);
  });

  it('says how to give weights when there are none', () => {
    const r = analyze([...TINY, '--no-eval']);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/no weights to analyse: give train\.init_checkpoint=FILE/);
  });
});
