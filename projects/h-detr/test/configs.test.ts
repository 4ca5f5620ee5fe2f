// The H-Deformable-DETR project's configs: every file loads and resolves to detrex's values (and the
// IA-BCE variant changes only the classification loss), every one builds (shrunk), the small config
// trains on the embedded dataset (a tiny generated split) with detrex's loss keys, finite losses and a
// flat tensor count, and the override paths a user reaches for exist and keep the derived values
// (proposal count, weight dict, one-to-many settings) consistent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@detr/core';
import { HybridCriterion, IABCELoss, SigmoidFocalLoss } from '@detr/criteria';
import { tinyMnistOverrides, trainSteps } from '@detr/engine/testing';
import { HungarianMatcher } from '@detr/matchers';
import { instantiate } from '@detr/registry';
import { listProjectConfigs, loadAndResolve, REPO_ROOT } from '../../../tools/cli_common';
import { HDeformableDETR } from '../src/index';

type Cfg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const configFile = (name: string) => join(REPO_ROOT, 'projects', 'h-detr', 'configs', `${name}.ts`);
async function resolved(name: string, overrides: string[] = []): Promise<Cfg> {
  return (await loadAndResolve(configFile(name), overrides)).resolved as Cfg;
}

const BASE = { loss_class: 2, loss_bbox: 5, loss_giou: 2 };

/** detrex `models/h_deformable_detr_r50.py`: base keys, `_0.._{L-2}` and `_enc` copies. */
function detrexWeightDict(base: Record<string, number>, decoderLayers: number): Record<string, number> {
  const out = { ...base };
  for (let i = 0; i < decoderLayers - 1; i++) for (const [k, v] of Object.entries(base)) out[`${k}_${i}`] = v;
  for (const [k, v] of Object.entries(base)) out[`${k}_enc`] = v;
  return out;
}

/**
 * The loss keys of detrex's HDeformableDETR.forward in training: the one-to-one criterion call (final,
 * aux, enc) plus every key of the one-to-many call (final, aux; its outputs have no enc) + `_one2many`.
 */
function detrexTrainingLossKeys(decoderLayers: number): string[] {
  const one2one = Object.keys(detrexWeightDict(BASE, decoderLayers));
  return [...one2one, ...one2one.filter((k) => !k.endsWith('_enc')).map((k) => `${k}_one2many`)].sort();
}

/** Makes a config cheap to build: ResNet-18 for the R50 ones, 1 + 2 layers, 10 + 20 queries. */
function shrink(cfg: Cfg): string[] {
  const out = [
    'model.transformer.encoder.num_layers=1',
    'model.transformer.decoder.num_layers=2',
    'model.num_queries_one2one=10',
    'model.num_queries_one2many=20',
    'model.k_one2many=2',
  ];
  if (cfg.model.backbone.depth !== 18) {
    out.push('model.backbone.depth=18', 'model.neck.input_shapes={"res3": {"channels": 128}, "res4": {"channels": 256}, "res5": {"channels": 512}}');
  }
  return out;
}

let tmp = '';
beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: () => {} });
  tmp = mkdtempSync(join(tmpdir(), 'hdetr-configs-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('H-Deformable-DETR configs', () => {
  it('lists the configs of the issue, and every one loads and resolves', async () => {
    const names = listProjectConfigs('h-detr');
    for (const n of [
      'models/h_deformable_detr_r50',
      'h_deformable_detr_r50_two_stage_12ep',
      'h_deformable_detr_r50_two_stage_36ep',
      'align_h_deformable_detr_r50_two_stage_12ep',
      'h_detr_small_mnist',
    ]) {
      expect(names).toContain(n);
    }
    for (const n of names) {
      const cfg = await resolved(n);
      expect(cfg.model?._target_, n).toBe(HDeformableDETR);
      if (n.startsWith('models/')) continue;
      for (const key of ['dataloader', 'optimizer', 'lr_multiplier', 'train']) expect(cfg[key], `${n}: ${key}`).toBeDefined();
    }
  });

  it('resolves to the values of detrex h_deformable_detr_r50_two_stage_12ep.py / models/h_deformable_detr_r50.py', async () => {
    const cfg = await resolved('h_deformable_detr_r50_two_stage_12ep');
    const m = cfg.model;
    expect(m.backbone).toMatchObject({ depth: 50, out_features: ['res3', 'res4', 'res5'], freeze_at: 1, norm: 'FrozenBN', stride_in_1x1: false });
    expect(m.position_embedding).toMatchObject({ num_pos_feats: 128, temperature: 10000, normalize: true, offset: -0.5 });
    expect(m.neck).toMatchObject({ in_features: ['res3', 'res4', 'res5'], out_channels: 256, num_outs: 4, kernel_size: 1, norm_layer: { num_groups: 32, num_channels: 256 } });
    for (const part of [m.transformer.encoder, m.transformer.decoder]) {
      expect(part).toMatchObject({ embed_dim: 256, num_heads: 8, feedforward_dim: 2048, attn_dropout: 0, ffn_dropout: 0, num_layers: 6, num_feature_levels: 4 });
    }
    expect(m.transformer.encoder.post_norm).toBe(false);
    expect(m.transformer.decoder).toMatchObject({ return_intermediate: true, look_forward_twice: true });
    expect(m.transformer).toMatchObject({ as_two_stage: true, num_feature_levels: 4, two_stage_num_proposals: 1800, mixed_selection: true });
    expect(m).toMatchObject({
      embed_dim: 256,
      num_classes: 80,
      num_queries_one2one: 300,
      num_queries_one2many: 1500,
      aux_loss: true,
      with_box_refine: true,
      as_two_stage: true,
      select_box_nums_for_evaluation: 300,
      mixed_selection: true,
      k_one2many: 6,
      lambda_one2many: 1,
    });
    const c = m.criterion;
    expect(c._target_).toBe(HybridCriterion);
    expect(c.matcher).toMatchObject({ _target_: HungarianMatcher, cost_class: 2, cost_bbox: 5, cost_giou: 2, alpha: 0.25, gamma: 2 });
    expect(c.class_loss).toMatchObject({ _target_: SigmoidFocalLoss, alpha: 0.25, gamma: 2 });
    expect(c.weight_dict).toEqual(detrexWeightDict(BASE, 6));
    expect([c.num_classes, c.k_one2many, c.lambda_one2many, c.two_stage_binary_cls]).toEqual([80, 6, 1, true]);
    expect(cfg.optimizer).toMatchObject({ lr: 1e-4, betas: [0.9, 0.999], weight_decay: 1e-4 });
    expect(cfg.optimizer.params.lr_factor_func('backbone.res3.0.conv1.weight')).toBe(0.1);
    expect(cfg.optimizer.params.lr_factor_func('transformer.encoder.layers.0.attentions.0.sampling_offsets.weight')).toBe(1);
    expect(cfg.lr_multiplier).toMatchObject({ epochs: 12, decay_epochs: 11, warmup_epochs: 0 });
    expect(cfg.train).toMatchObject({ max_iter: 90000, eval_period: 5000, log_period: 20, clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } } });
    expect(cfg.dataloader.train.batch_size * cfg.train.grad_accum_steps).toBe(16);
  });

  it('36ep changes the schedule only; the IA-BCE variant changes the classification loss only', async () => {
    const base = await resolved('h_deformable_detr_r50_two_stage_12ep');
    const long = await resolved('h_deformable_detr_r50_two_stage_36ep');
    expect(long.train.max_iter).toBe(270000);
    expect(long.lr_multiplier).toMatchObject({ epochs: 36, decay_epochs: 30 });
    expect(long.model).toEqual(base.model);
    expect(long.optimizer).toEqual(base.optimizer);

    const align = await resolved('align_h_deformable_detr_r50_two_stage_12ep');
    expect(align.model.criterion.class_loss).toMatchObject({ _target_: IABCELoss, alpha: 0.25, gamma: 2 });
    expect({ ...align.model.criterion, class_loss: null }).toEqual({ ...base.model.criterion, class_loss: null });
    expect({ ...align.model, criterion: null }).toEqual({ ...base.model, criterion: null });
    expect([align.train.max_iter, align.lr_multiplier.epochs, align.optimizer.lr]).toEqual([90000, 12, 1e-4]);
  });

  it('builds every config (shrunk) with its criterion and class loss', async () => {
    for (const n of listProjectConfigs('h-detr')) {
      const cfg = await resolved(n);
      const model = instantiate<HDeformableDETR>((await resolved(n, shrink(cfg))).model);
      expect(model, n).toBeInstanceOf(HDeformableDETR);
      expect([model.numQueriesOne2one, model.numQueriesOne2many, model.kOne2many]).toEqual([10, 20, 2]);
      expect(model.transformer.twoStageNumProposals).toBe(30);
      const criterion = model.criterion as HybridCriterion;
      expect(criterion, n).toBeInstanceOf(HybridCriterion);
      expect(criterion.kOne2many).toBe(2);
      expect(criterion.classLoss, n).toBeInstanceOf(n.startsWith('align_') ? IABCELoss : SigmoidFocalLoss);
      model.dispose();
    }
  });

  it('override paths reach the model and the derived values follow them', async () => {
    const cfg = await resolved('h_detr_small_mnist', [
      'model.num_queries_one2one=8',
      'model.num_queries_one2many=24',
      'model.k_one2many=3',
      'model.lambda_one2many=0.5',
      'model.num_classes=4',
      'model.select_box_nums_for_evaluation=20',
      'model.transformer.decoder.num_layers=2',
      'model.transformer.encoder.num_layers=1',
      'model.criterion.base_weight_dict.loss_class=1',
      'optimizer.lr=5e-4',
      'train.max_iter=7',
    ]);
    const c = cfg.model.criterion;
    expect(cfg.model.transformer.two_stage_num_proposals).toBe(32);
    expect([c.num_classes, c.k_one2many, c.lambda_one2many]).toEqual([4, 3, 0.5]);
    expect(c.weight_dict).toEqual(detrexWeightDict({ ...BASE, loss_class: 1 }, 2));
    const model = instantiate<HDeformableDETR>(cfg.model);
    expect([model.numQueriesOne2one, model.numQueriesOne2many, model.kOne2many, model.lambdaOne2many, model.numClasses]).toEqual([8, 24, 3, 0.5, 4]);
    expect(model.query_embedding!.weight.shape).toEqual([32, 128]);
    expect(model.class_embed.length).toBe(3);
    // The detector's weights: detrex's `_one2many` copy of every criterion weight.
    expect(model.weightDict!.loss_class_0_one2many).toBe(1);
    expect(model.weightDict!.loss_giou_one2many).toBe(2);
    model.dispose();
    expect([cfg.optimizer.params.base_lr, cfg.train.max_iter]).toEqual([5e-4, 7]);
    await expect(resolved('h_detr_small_mnist', ['model.num_queries=8'])).rejects.toThrow(/num_queries/);
  });

  it('the small config trains on the embedded dataset: detrex loss keys, finite losses, flat tensor count', async () => {
    const overrides = [
      ...tinyMnistOverrides(tmp),
      'model.transformer.encoder.num_layers=1',
      'model.transformer.decoder.num_layers=2',
      // 30 + 60 proposals: a 64 px batch has only 85..100 encoder tokens over the 4 levels.
      'model.num_queries_one2many=60',
    ];
    const cfg = await resolved('h_detr_small_mnist', overrides);
    const { losses, tensors } = await trainSteps(cfg, 3);
    expect(Object.keys(losses[0]).sort()).toEqual(detrexTrainingLossKeys(2));
    for (const step of losses) for (const [k, v] of Object.entries(step)) expect(Number.isFinite(v) && v > 0, `${k} = ${v}`).toBe(true);
    expect(tensors[2]).toBe(tensors[1]);
  });
});
