// DINO's configs against detrex (`projects/dino/configs/models/dino_r50.py`,
// `dino-resnet/dino_r50_4scale_12ep.py`, `_24ep.py` at e244e6c): the resolved values, the schedule they
// build, the 24-epoch config as an exact override diff of the 12-epoch one, and the model config with
// the parity fixture's sizes giving exactly detrex's state-dict keys and shapes (README section 10).
import { join } from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, loadFixture } from '@detr/core/testing';
import type { ParamScheduler } from '@detr/engine';
import { applyOverrides, configToPlain, instantiate, loadConfigFile, resolveConfig, type ConfigNode } from '@detr/registry';
import { REPO_ROOT, findConfigFile } from '../../../tools/cli_common';
import { DINO } from '../src/index';

const dir = join(REPO_ROOT, 'projects/dino/configs');
type Plain = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const plain = (cfg: ConfigNode) => configToPlain(resolveConfig(cfg)) as Plain;

let c12: ConfigNode;
let p12: Plain;
beforeAll(async () => {
  c12 = await loadConfigFile(join(dir, 'dino_r50_4scale_12ep.ts'));
  p12 = plain(c12);
});

describe('dino_r50_4scale_12ep', () => {
  it('model: detrex dino_r50.py values', () => {
    const m = p12.model;
    expect(m._target_).toBe('detector/dino');
    expect(m.backbone).toEqual({ _target_: 'backbone/resnet', depth: 50, out_features: ['res3', 'res4', 'res5'], freeze_at: 1, norm: 'FrozenBN', stride_in_1x1: false });
    expect(m.position_embedding).toEqual({ _target_: 'position_embedding/sine', num_pos_feats: 128, temperature: 10000, normalize: true, offset: -0.5 });
    expect(m.neck).toMatchObject({
      input_shapes: { res3: { channels: 512 }, res4: { channels: 1024 }, res5: { channels: 2048 } },
      in_features: ['res3', 'res4', 'res5'],
      out_channels: 256,
      num_outs: 4,
      kernel_size: 1,
      norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 256 },
    });
    expect(m.transformer.encoder).toMatchObject({ embed_dim: 256, num_heads: 8, feedforward_dim: 2048, attn_dropout: 0, ffn_dropout: 0, num_layers: 6, post_norm: false, num_feature_levels: 4 });
    expect(m.transformer.decoder).toMatchObject({ embed_dim: 256, num_heads: 8, feedforward_dim: 2048, attn_dropout: 0, ffn_dropout: 0, num_layers: 6, return_intermediate: true, num_feature_levels: 4 });
    expect([m.transformer.num_feature_levels, m.transformer.two_stage_num_proposals]).toEqual([4, 900]);
    expect([m.embed_dim, m.num_classes, m.num_queries, m.aux_loss, m.dn_number, m.label_noise_ratio, m.box_noise_scale, m.input_format]).toEqual([256, 80, 900, true, 100, 0.5, 1.0, 'RGB']);
    expect([m.pixel_mean, m.pixel_std]).toEqual([[123.675, 116.28, 103.53], [58.395, 57.12, 57.375]]);
    // Inference: top-300 over queries x classes (detrex DINO's default select_box_nums_for_evaluation).
    expect(m.select_box_nums_for_evaluation).toBe(300);
  });

  it('criterion: Hungarian 2/5/2 focal cost, focal loss alpha 0.25 gamma 2, weights 1/5/2 with _enc, _0.._4, _dn copies', () => {
    const c = p12.model.criterion;
    expect(c._target_).toBe('criterion/dino');
    expect(c.matcher).toEqual({ _target_: 'matcher/hungarian', cost_class: 2, cost_bbox: 5, cost_giou: 2, alpha: 0.25, gamma: 2 });
    expect(c.class_loss).toEqual({ _target_: 'loss/sigmoid_focal', alpha: 0.25, gamma: 2 });
    expect([c.num_classes, c.two_stage_binary_cls]).toEqual([80, false]);
    const suffixes = ['', '_0', '_1', '_2', '_3', '_4', '_enc', '_dn', '_dn_0', '_dn_1', '_dn_2', '_dn_3', '_dn_4'];
    expect(c.weight_dict).toEqual(Object.fromEntries(suffixes.flatMap((s) => [[`loss_class${s}`, 1], [`loss_bbox${s}`, 5], [`loss_giou${s}`, 2]])));
  });

  it('training: AdamW lr 1e-4 (backbone x0.1), wd 1e-4 (0 on norms), clip 0.1, 90k iterations, lr x0.1 at 11/12, total batch 16', () => {
    const r = resolveConfig(c12) as Plain;
    expect([r.optimizer.lr, r.optimizer.weight_decay, r.optimizer.betas, r.optimizer.params.weight_decay_norm]).toEqual([1e-4, 1e-4, [0.9, 0.999], 0]);
    expect([r.optimizer.params.lr_factor_func('backbone.res4.2.conv2.weight'), r.optimizer.params.lr_factor_func('neck.convs.0.conv.weight')]).toEqual([0.1, 1]);
    expect(r.train).toMatchObject({ max_iter: 90000, eval_period: 5000, log_period: 20, checkpointer: { period: 5000 }, clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } } });
    expect(r.dataloader.train.batch_size * r.train.grad_accum_steps).toBe(16);
    expect(r.dataloader.train.dataset.filter_empty).toBe(true);
    const schedule = instantiate<ParamScheduler>(r.lr_multiplier);
    expect([schedule.at(0), schedule.at(82499 / 90000), schedule.at(82501 / 90000)]).toEqual([1, 1, 0.1]);
  });
});

describe('dino_r50_4scale_24ep', () => {
  it('= 12ep with the DAB-DETR position embedding (temperature 20, offset 0), filter_empty false, 180k iterations, lr x0.1 at 20/24', async () => {
    const ours = plain(await loadConfigFile(join(dir, 'dino_r50_4scale_24ep.ts')));
    const expected = plain(
      applyOverrides(c12, [
        'model.position_embedding.temperature=20',
        'model.position_embedding.offset=0.0',
        'dataloader.train.dataset.filter_empty=false',
        'train.max_iter=180000',
        'lr_multiplier.epochs=24',
        'lr_multiplier.decay_epochs=20',
        'train.output_dir=./output/dino_r50_4scale_24ep',
      ]),
    );
    expect(ours).toEqual(expected);
  });
});

describe('dino_small_mnist', () => {
  it("is the project's default config and keeps detrex's structure at a small size", async () => {
    expect(findConfigFile(undefined, 'dino')).toBe(join(dir, 'dino_small_mnist.ts'));
    const m = plain(await loadConfigFile(join(dir, 'dino_small_mnist.ts'))).model;
    expect([m.embed_dim, m.transformer.encoder.embed_dim, m.transformer.decoder.embed_dim, m.neck.out_channels, 2 * m.position_embedding.num_pos_feats]).toEqual(Array(5).fill(m.embed_dim));
    expect(m.transformer.two_stage_num_proposals).toBe(m.num_queries);
    expect(m.criterion.num_classes).toBe(m.num_classes);
  });
});

describe('models/dino_r50.ts with the parity fixture sizes', () => {
  it("builds exactly detrex's state dict: the 418 keys in order with torch shapes", async () => {
    await tf.setBackend('cpu');
    const c = loadFixture('aligndetr_r50_small').config;
    const cfg = resolveConfig(
      applyOverrides(await loadConfigFile(join(dir, 'models/dino_r50.ts')), [
        `model.num_classes=${c.num_classes}`,
        `model.num_queries=${c.num_queries}`,
        `model.transformer.encoder.num_layers=${c.enc_layers}`,
        `model.transformer.decoder.num_layers=${c.dec_layers}`,
      ]),
    ) as Plain;
    const model = instantiate<DINO>(cfg.model);
    try {
      const manifest = JSON.parse(fs.readFileSync(fixturePath('aligndetr_r50_small.weights.json'), 'utf8')).tensors.map((e: { key: string; shape: number[] }) => ({ key: e.key, shape: e.shape }));
      expect([...model.stateDictShapes('torch')].map(([key, shape]) => ({ key, shape }))).toEqual(manifest);
    } finally {
      model.dispose();
    }
  });
});
