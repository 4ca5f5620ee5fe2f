// The Anchor DETR project's configs: every file loads and resolves to detrex's values (= the official
// AnchorDETR main.py defaults), the full R50 model has the parameter count of the official architecture
// (counted from its module definitions), DC5 keeps res5 at stride 16, every config builds (shrunk), the
// small config trains on the embedded dataset (a tiny generated split) with finite losses and a flat
// tensor count, and the override paths a user reaches for exist and reach the built model.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@detr/core';
import { SetCriterion, SigmoidFocalLoss } from '@detr/criteria';
import { tinyMnistOverrides, trainSteps } from '@detr/engine/testing';
import { HungarianMatcher } from '@detr/matchers';
import { instantiate } from '@detr/registry';
import { listProjectConfigs, loadAndResolve, REPO_ROOT } from '../../../tools/cli_common';
import { AnchorDETR, AnchorDETRTransformer } from '../src/index';

type Cfg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const configFile = (name: string) => join(REPO_ROOT, 'projects', 'anchor-detr', 'configs', `${name}.ts`);
async function resolved(name: string, overrides: string[] = []): Promise<Cfg> {
  return (await loadAndResolve(configFile(name), overrides)).resolved as Cfg;
}

/** detrex `models/anchor_detr_r50.py`: base keys plus `_0.._{L-2}` copies. */
function detrexWeightDict(base: Record<string, number>, decoderLayers: number): Record<string, number> {
  const out = { ...base };
  for (let i = 0; i < decoderLayers - 1; i++) for (const [k, v] of Object.entries(base)) out[`${k}_${i}`] = v;
  return out;
}

/**
 * Parameters of the official Anchor DETR (megvii-research/AnchorDETR `models/anchor_detr.py`,
 * `models/transformer.py`, `models/row_column_decoupled_attention.py`) on ResNet-50 with frozen BN:
 * torchvision's resnet50 has 25,557,032 parameters, minus its fc (2048*1000 + 1000) and its 53,120 BN
 * affine parameters (buffers in FrozenBatchNorm2d).
 */
function officialParameterCount(o: { d: number; ffn: number; enc: number; dec: number; positions: number; patterns: number; classes: number }): number {
  const { d, ffn } = o;
  const backbone = 25_557_032 - (2048 * 1000 + 1000) - 53_120;
  const inputProj = 2048 * d + d + 2 * d; // Conv2d 1x1 + GroupNorm
  const linear = (i: number, out: number) => i * out + out;
  const norm = 2 * d;
  const rcda = 5 * d * d + 5 * d + linear(d, d); // in_proj (q_row, q_col, k_row, k_col, v) + out_proj
  const mha = 3 * d * d + 3 * d + linear(d, d);
  const ffnBlock = linear(d, ffn) + linear(ffn, d) + norm;
  const encoderLayer = rcda + norm + ffnBlock;
  const decoderLayer = rcda + norm + mha + norm + ffnBlock;
  const heads = linear(d, o.classes) + linear(d, d) + linear(d, d) + linear(d, 4); // class_embed, bbox MLP (shared)
  const queries = o.patterns * d + o.positions * 2 + 2 * (linear(d, d) + linear(d, d)); // pattern, position, adapt_pos2d / 1d
  return backbone + inputProj + o.enc * encoderLayer + o.dec * decoderLayer + heads + queries;
}

/** Makes a config cheap to build: ResNet-18 for the R50 ones, 1 + 2 layers, 10 anchor points. */
function shrink(cfg: Cfg): string[] {
  const out = ['model.transformer.num_encoder_layers=1', 'model.transformer.num_decoder_layers=2', 'model.transformer.num_query_position=10'];
  if (cfg.model.backbone.depth !== 18) out.push('model.backbone.depth=18', 'model.backbone.res5_dilation=1', 'model.in_channels=512');
  return out;
}

let tmp = '';
beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: () => {} });
  tmp = mkdtempSync(join(tmpdir(), 'anchor-configs-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Anchor DETR configs', () => {
  it('lists the configs of the issue, and every one loads and resolves', async () => {
    const names = listProjectConfigs('anchor-detr');
    for (const n of ['models/anchor_detr_r50', 'anchor_detr_r50_50ep', 'anchor_detr_r50_dc5_50ep', 'anchor_detr_small_mnist']) expect(names).toContain(n);
    for (const n of names) {
      const cfg = await resolved(n);
      expect(cfg.model?._target_, n).toBe(AnchorDETR);
      if (n.startsWith('models/')) continue;
      for (const key of ['dataloader', 'optimizer', 'lr_multiplier', 'train']) expect(cfg[key], `${n}: ${key}`).toBeDefined();
    }
  });

  it('resolves to the values of detrex anchor_detr_r50_50ep.py / models/anchor_detr_r50.py', async () => {
    const cfg = await resolved('anchor_detr_r50_50ep');
    const m = cfg.model;
    // TorchvisionResNet(resnet50, train_backbone=True, dilation=False): layer2..4 train (freeze_at 2).
    expect(m.backbone).toMatchObject({ depth: 50, freeze_at: 2, norm: 'FrozenBN', res5_dilation: 1 });
    expect([m.in_features, m.in_channels, m.num_classes, m.aux_loss, m.select_box_nums_for_evaluation]).toEqual([['res5'], 2048, 80, true, 100]);
    expect(m.transformer).toMatchObject({
      _target_: AnchorDETRTransformer,
      d_model: 256,
      nhead: 8,
      num_encoder_layers: 6,
      num_decoder_layers: 6,
      dim_feedforward: 1024,
      dropout: 0,
      activation: 'relu',
      num_query_position: 300,
      num_query_pattern: 3,
      spatial_prior: 'learned',
      attention_type: 'RCDA',
      num_classes: 80,
    });
    const c = m.criterion;
    expect(c._target_).toBe(SetCriterion);
    expect(c.matcher).toMatchObject({ _target_: HungarianMatcher, cost_class: 2, cost_bbox: 5, cost_giou: 2, alpha: 0.25, gamma: 2 });
    expect(c.class_loss).toMatchObject({ _target_: SigmoidFocalLoss, alpha: 0.25, gamma: 2 });
    expect(c.weight_dict).toEqual(detrexWeightDict({ loss_class: 2, loss_bbox: 5, loss_giou: 2 }, 6));
    expect(cfg.optimizer).toMatchObject({ lr: 1e-4, betas: [0.9, 0.999], weight_decay: 1e-4 });
    expect(cfg.optimizer.params.lr_factor_func('backbone.res4.0.conv2.weight')).toBe(0.1);
    expect(cfg.optimizer.params.lr_factor_func('transformer.pattern.weight')).toBe(1);
    expect(cfg.lr_multiplier).toMatchObject({ epochs: 50, decay_epochs: 40, warmup_epochs: 0 });
    expect(cfg.train).toMatchObject({ max_iter: 375000, eval_period: 5000, log_period: 20, clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } } });
    expect(cfg.dataloader.train.batch_size * cfg.train.grad_accum_steps).toBe(16);

    const dc5 = await resolved('anchor_detr_r50_dc5_50ep');
    expect(dc5.model.backbone.res5_dilation).toBe(2);
    expect({ ...dc5.model, backbone: null }).toEqual({ ...m, backbone: null });
    expect(dc5.train.max_iter).toBe(375000);
  });

  it('builds the full R50 model with the official architecture\'s parameter count, and DC5 with a stride-16 res5', async () => {
    const expected = officialParameterCount({ d: 256, ffn: 1024, enc: 6, dec: 6, positions: 300, patterns: 3, classes: 80 });
    const r50 = instantiate<AnchorDETR>((await resolved('anchor_detr_r50_50ep')).model);
    expect(r50.numParameters()).toBe(expected);
    r50.dispose();
    const dc5 = instantiate<AnchorDETR>((await resolved('anchor_detr_r50_dc5_50ep')).model);
    expect(dc5.numParameters()).toBe(expected);
    const maps = tf.tidy(() => dc5.backbone.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D));
    expect(maps.res5.shape).toEqual([1, 4, 4, 2048]);
    tf.dispose(Object.values(maps));
    dc5.dispose();
  });

  it('builds every config (shrunk) into an AnchorDETR with its criterion', async () => {
    for (const n of listProjectConfigs('anchor-detr')) {
      const cfg = await resolved(n);
      const model = instantiate<AnchorDETR>((await resolved(n, shrink(cfg))).model);
      expect(model, n).toBeInstanceOf(AnchorDETR);
      expect([model.transformer.numPosition, model.transformer.numPattern, model.transformer.decoder_layers.length]).toEqual([10, 3, 2]);
      expect(model.criterion, n).toBeInstanceOf(SetCriterion);
      model.dispose();
    }
  });

  it('override paths reach the model and the derived values follow them', async () => {
    const cfg = await resolved('anchor_detr_small_mnist', [
      'model.num_classes=4',
      'model.transformer.num_query_position=9',
      'model.transformer.num_query_pattern=2',
      'model.transformer.spatial_prior=grid',
      'model.transformer.num_decoder_layers=2',
      'model.criterion.base_weight_dict.loss_class=1',
      'model.criterion.matcher.cost_giou=3',
      'optimizer.lr=5e-4',
      'train.max_iter=7',
    ]);
    expect([cfg.model.transformer.num_classes, cfg.model.criterion.num_classes]).toEqual([4, 4]);
    expect(cfg.model.criterion.weight_dict).toEqual(detrexWeightDict({ loss_class: 1, loss_bbox: 5, loss_giou: 2 }, 2));
    const model = instantiate<AnchorDETR>(cfg.model);
    expect([model.transformer.numPosition, model.transformer.numPattern, model.transformer.spatialPrior, model.transformer.numClasses]).toEqual([9, 2, 'grid', 4]);
    expect(model.transformer.position).toBeNull();
    model.dispose();
    expect([cfg.optimizer.params.base_lr, cfg.train.max_iter]).toEqual([5e-4, 7]);
    await expect(resolved('anchor_detr_small_mnist', ['model.transformer.num_queries=9'])).rejects.toThrow(/num_queries/);
  });

  it('the small config trains on the embedded dataset: finite losses, flat tensor count', async () => {
    const overrides = [
      ...tinyMnistOverrides(tmp),
      'model.transformer.num_encoder_layers=1',
      'model.transformer.num_decoder_layers=2',
    ];
    const cfg = await resolved('anchor_detr_small_mnist', overrides);
    const { losses, tensors } = await trainSteps(cfg, 3);
    expect(Object.keys(losses[0]).sort()).toEqual(Object.keys(detrexWeightDict({ loss_class: 2, loss_bbox: 5, loss_giou: 2 }, 2)).sort());
    for (const step of losses) for (const [k, v] of Object.entries(step)) expect(Number.isFinite(v) && v > 0, `${k} = ${v}`).toBe(true);
    expect(tensors[2]).toBe(tensors[1]);
  });
});
