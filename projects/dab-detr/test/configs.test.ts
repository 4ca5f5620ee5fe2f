// The DAB-DETR project's configs: every file loads and resolves to detrex's / Align-DETR's values,
// builds (the full R50 and R50-DC5 models at full size, the others shrunk), the small config trains on
// the embedded dataset (a tiny generated split) with finite losses and a flat tensor count, and the
// override paths a user reaches for exist and reach the built model (derived values follow them).
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@detr/core';
import { IABCELoss, SetCriterion, SigmoidFocalLoss } from '@detr/criteria';
import { tinyMnistOverrides, trainSteps } from '@detr/engine/testing';
import { HungarianMatcher, MixedMatcher } from '@detr/matchers';
import { instantiate } from '@detr/registry';
import { listProjectConfigs, loadAndResolve, REPO_ROOT } from '../../../tools/cli_common';
import { DABDETR } from '../src/index';

type Cfg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const configFile = (name: string) => join(REPO_ROOT, 'projects', 'dab-detr', 'configs', `${name}.ts`);
async function resolved(name: string, overrides: string[] = []): Promise<Cfg> {
  return (await loadAndResolve(configFile(name), overrides)).resolved as Cfg;
}

/** detrex's aux expansion (`models/dab_detr_r50.py`): base keys plus `_0.._{L-2}` copies. */
function detrexWeightDict(base: Record<string, number>, decoderLayers: number): Record<string, number> {
  const out = { ...base };
  for (let i = 0; i < decoderLayers - 1; i++) for (const [k, v] of Object.entries(base)) out[`${k}_${i}`] = v;
  return out;
}

/** Makes a config cheap to build: ResNet-18 (res5, 512 channels) for the R50/R101 ones, 1 + 2 layers, 20 queries. */
function shrink(cfg: Cfg): string[] {
  const out = ['model.transformer.encoder.num_layers=1', 'model.transformer.decoder.num_layers=2', 'model.num_queries=20'];
  if (cfg.model.backbone.depth !== 18) out.push('model.backbone.depth=18', 'model.in_channels=512');
  if (cfg.model.backbone.res5_dilation === 2) out.push('model.backbone.res5_dilation=1'); // R18 has no dilated res5
  return out;
}

let tmp = '';
beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: () => {} });
  tmp = mkdtempSync(join(tmpdir(), 'dab-configs-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('DAB-DETR configs', () => {
  it('lists the configs of the issue, and every one loads and resolves', async () => {
    const names = listProjectConfigs('dab-detr');
    for (const n of ['models/dab_detr_r50', 'dab_detr_r50_50ep', 'dab_detr_r50_dc5_50ep', 'dab_detr_r101_50ep', 'align_dab_detr_r50_50ep', 'dab_detr_small_mnist', 'align_dab_detr_small_mnist']) {
      expect(names).toContain(n);
    }
    for (const n of names) {
      const cfg = await resolved(n);
      expect(cfg.model?._target_, n).toBe(DABDETR);
      if (n.startsWith('models/')) continue;
      for (const key of ['dataloader', 'optimizer', 'lr_multiplier', 'train']) expect(cfg[key], `${n}: ${key}`).toBeDefined();
    }
  });

  it('resolves to the values of detrex dab_detr_r50_50ep.py / models/dab_detr_r50.py', async () => {
    const cfg = await resolved('dab_detr_r50_50ep');
    const m = cfg.model;
    expect(m.backbone).toMatchObject({ depth: 50, freeze_at: 1, norm: 'FrozenBN', stride_in_1x1: false });
    expect([m.in_features, m.in_channels, m.embed_dim, m.num_classes, m.num_queries]).toEqual([['res5'], 2048, 256, 80, 300]);
    expect(m.position_embedding).toMatchObject({ num_pos_feats: 128, temperature: 20, normalize: true });
    for (const part of [m.transformer.encoder, m.transformer.decoder]) {
      expect(part).toMatchObject({ embed_dim: 256, num_heads: 8, attn_dropout: 0, feedforward_dim: 2048, ffn_dropout: 0, activation: 'prelu', num_layers: 6 });
    }
    expect(m.transformer.decoder.modulate_hw_attn).toBe(true);
    expect(m.transformer.num_patterns).toBe(0);
    expect(m.criterion._target_).toBe(SetCriterion);
    expect(m.criterion.num_classes).toBe(80);
    expect(m.criterion.matcher).toMatchObject({ _target_: HungarianMatcher, cost_class: 2, cost_bbox: 5, cost_giou: 2, alpha: 0.25, gamma: 2 });
    expect(m.criterion.class_loss).toMatchObject({ _target_: SigmoidFocalLoss, alpha: 0.25, gamma: 2 });
    expect(m.criterion.weight_dict).toEqual(detrexWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, 6));
    expect([m.aux_loss, m.freeze_anchor_box_centers, m.select_box_nums_for_evaluation]).toEqual([true, true, 300]);
    expect(cfg.optimizer).toMatchObject({ lr: 1e-4, betas: [0.9, 0.999], weight_decay: 1e-4 });
    expect(cfg.optimizer.params.lr_factor_func('backbone.res2.0.conv1.weight')).toBe(0.1);
    expect(cfg.optimizer.params.lr_factor_func('transformer.decoder.layers.0.norms.0.weight')).toBe(1);
    expect(cfg.lr_multiplier).toMatchObject({ epochs: 50, decay_epochs: 40, warmup_epochs: 0 });
    expect(cfg.train).toMatchObject({ max_iter: 375000, eval_period: 5000, log_period: 20, clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } } });
    expect(cfg.train.checkpointer.period).toBe(5000);
    // Total batch 16 (detrex dataloader.train.total_batch_size).
    expect(cfg.dataloader.train.batch_size * cfg.train.grad_accum_steps).toBe(16);
  });

  it('DC5 / R101 / Align variants change exactly what their upstream files change', async () => {
    const r50 = await resolved('dab_detr_r50_50ep');
    const dc5 = await resolved('dab_detr_r50_dc5_50ep');
    expect(dc5.model.backbone).toMatchObject({ depth: 50, res5_dilation: 2, freeze_at: 2 });
    expect(dc5.model.position_embedding.temperature).toBe(10);
    expect(dc5.model.transformer).toEqual(r50.model.transformer);
    const r101 = await resolved('dab_detr_r101_50ep');
    expect(r101.model.backbone.depth).toBe(101);
    expect({ ...r101.model, backbone: null }).toEqual({ ...r50.model, backbone: null });

    const align = await resolved('align_dab_detr_r50_50ep');
    const c = align.model.criterion;
    expect(c.matcher).toMatchObject({ _target_: MixedMatcher, cost_class: 2, cost_bbox: 5, cost_giou: 2, alpha: 0.25, gamma: 2 });
    expect(c.class_loss).toMatchObject({ _target_: IABCELoss, alpha: 0.25, gamma: 2 });
    // AlignDETR align_dab_detr_r50_50ep.py: match_number = [1,2,2,2,2,2,1], tau 1.5.
    expect(c.match_num).toEqual([1, 2, 2, 2, 2, 2, 1]);
    expect(c.tau).toBe(1.5);
    expect(c.weight_dict).toEqual(detrexWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, 6));
    expect({ ...align.model, criterion: null }).toEqual({ ...r50.model, criterion: null });
    expect(align.train.max_iter).toBe(375000);
    // match_num follows the decoder depth: the last layer stays one-to-one.
    const shallow = await resolved('align_dab_detr_r50_50ep', ['model.transformer.decoder.num_layers=3']);
    expect(shallow.model.criterion.match_num).toEqual([1, 2, 2, 1]);
  });

  it('align_dab_detr_small_mnist is the small config with the Align-DETR criterion and nothing else', async () => {
    const small = await resolved('dab_detr_small_mnist');
    const align = await resolved('align_dab_detr_small_mnist');
    const r50Align = await resolved('align_dab_detr_r50_50ep');
    expect(align.model.criterion.match_num).toEqual([1, 2, 2, 1]); // 3 decoder layers: k = 2 on layers 0, 1
    expect(align.model.criterion.num_classes).toBe(10); // follows model.num_classes
    expect({ ...align.model.criterion, match_num: null, weight_dict: null, num_classes: null }).toEqual({ ...r50Align.model.criterion, match_num: null, weight_dict: null, num_classes: null });
    expect(align.model.criterion.weight_dict).toEqual(detrexWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, 3));
    expect({ ...align.model, criterion: null }).toEqual({ ...small.model, criterion: null });
    expect(align.train.output_dir).toBe('./output/align_dab_detr_small_mnist');
    for (const k of ['dataloader', 'optimizer', 'lr_multiplier'] as const) expect(align[k], k).toEqual(small[k]);
    expect({ ...align.train, output_dir: null }).toEqual({ ...small.train, output_dir: null });
  });

  it('builds the full R50 model with the published parameter count, and DC5 with a stride-16 res5', async () => {
    // DAB-DETR paper / Align-DETR Table 2: DAB-DETR-R50 and DAB-DETR-DC5-R50 have 44M parameters.
    const r50 = instantiate<DABDETR>((await resolved('dab_detr_r50_50ep')).model);
    expect(Math.round(r50.numParameters() / 1e6)).toBe(44);
    // freeze_at 1: only the stem conv (7*7*3*64) is frozen.
    expect(r50.numParameters() - r50.numParameters(true)).toBe(7 * 7 * 3 * 64);
    const total = r50.numParameters();
    r50.dispose();

    const dc5 = instantiate<DABDETR>((await resolved('dab_detr_r50_dc5_50ep')).model);
    expect(dc5.numParameters()).toBe(total);
    // freeze_at 2 (torchvision train_backbone=True): stem and res2 frozen, 3 bottlenecks of 64 -> 256 channels.
    const res2 = 64 * 64 + 9 * 64 * 64 + 64 * 256 + 64 * 256 + 2 * (256 * 64 + 9 * 64 * 64 + 64 * 256);
    expect(dc5.numParameters() - dc5.numParameters(true)).toBe(7 * 7 * 3 * 64 + res2);
    const maps = tf.tidy(() => dc5.backbone.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D));
    expect(maps.res5.shape).toEqual([1, 4, 4, 2048]);
    tf.dispose(Object.values(maps));
    dc5.dispose();
  });

  it('builds every config (shrunk) into a DABDETR with its criterion', async () => {
    for (const n of listProjectConfigs('dab-detr')) {
      const cfg = await resolved(n);
      const model = instantiate<DABDETR>((await resolved(n, shrink(cfg))).model);
      expect(model, n).toBeInstanceOf(DABDETR);
      expect(model.numQueries).toBe(20);
      expect(model.criterion, n).toBeInstanceOf(SetCriterion);
      model.dispose();
    }
  });

  it('override paths reach the model and the derived values follow them', async () => {
    const cfg = await resolved('dab_detr_small_mnist', [
      'model.num_queries=12',
      'model.num_classes=4',
      'model.transformer.decoder.num_layers=2',
      'model.criterion.base_weight_dict.loss_class=3',
      'model.criterion.matcher.cost_class=1',
      'model.position_embedding.temperature=10',
      'optimizer.lr=5e-4',
      'train.max_iter=7',
      'dataloader.train.batch_size=3',
    ]);
    expect(cfg.model.criterion.num_classes).toBe(4);
    expect(cfg.model.criterion.weight_dict).toEqual(detrexWeightDict({ loss_class: 3, loss_bbox: 5, loss_giou: 2 }, 2));
    expect([cfg.optimizer.lr, cfg.optimizer.params.base_lr, cfg.train.max_iter, cfg.dataloader.train.batch_size]).toEqual([5e-4, 5e-4, 7, 3]);
    const model = instantiate<DABDETR>(cfg.model);
    expect([model.numQueries, model.numClasses, model.transformer.decoder.numLayers]).toEqual([12, 4, 2]);
    expect(model.anchor_box_embed.weight.shape).toEqual([12, 4]);
    expect(model.class_embed.getParameter('weight').shape).toEqual([128, 4]);
    expect((model.criterion as SetCriterion).matcher).toBeInstanceOf(HungarianMatcher);
    expect(model.position_embedding).toMatchObject({ temperature: 10 });
    model.dispose();
    await expect(resolved('dab_detr_small_mnist', ['model.num_querys=12'])).rejects.toThrow(/num_querys/);
  });

  it('the small config trains on the embedded dataset: finite losses, flat tensor count', async () => {
    const overrides = [
      ...tinyMnistOverrides(tmp),
      'model.transformer.encoder.num_layers=1',
      'model.transformer.decoder.num_layers=2',
    ];
    const cfg = await resolved('dab_detr_small_mnist', overrides);
    const { losses, tensors } = await trainSteps(cfg, 3);
    expect(Object.keys(losses[0]).sort()).toEqual(Object.keys(detrexWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, 2)).sort());
    for (const step of losses) for (const [k, v] of Object.entries(step)) expect(Number.isFinite(v) && v > 0, `${k} = ${v}`).toBe(true);
    expect(tensors[2]).toBe(tensors[1]);
  });
});
