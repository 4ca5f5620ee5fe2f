// The Align-DETR configs against the official / detrex ones (FelixCaae/AlignDETR and detrex
// `projects/align_detr/configs/{models/aligndetr_r50.py, aligndetr_k=2_r50_4scale_12ep.py, _24ep.py}`;
// facts in shared UPSTREAM.md section 2.5): resolved values, the schedule and optimizer they build, the
// detector class's option names, and that the 24-epoch and k = 3 configs differ from the 12-epoch k = 2
// one exactly where they should. No tensors beyond a tiny schedule / name check.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, configToPlain, instantiate, loadConfigFile, resolveConfig, type ConfigNode } from '@detr/registry';
import type { ParamScheduler } from '@detr/engine';
import { REPO_ROOT, findConfigFile } from '../../../tools/cli_common';
import { AlignDETR, ALIGN_DETR_OPTION_KEYS } from '../src/index';

const dir = join(REPO_ROOT, 'projects/align-detr/configs');
type Plain = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = async (name: string) => loadConfigFile(join(dir, `${name}.ts`));
const plain = (cfg: ConfigNode) => configToPlain(resolveConfig(cfg)) as Plain;

let k2: ConfigNode;
let k2p: Plain;
beforeAll(async () => {
  k2 = await load('aligndetr_k2_r50_4scale_12ep');
  k2p = plain(k2);
});

describe('aligndetr_k2_r50_4scale_12ep (official k = 2, 12 epochs)', () => {
  it('model: DINO R50 4-scale tree with detrex values', () => {
    const m = k2p.model;
    expect(m._target_).toBe('detector/align_detr');
    expect(m.backbone).toEqual({ _target_: 'backbone/resnet', depth: 50, out_features: ['res3', 'res4', 'res5'], freeze_at: 1, norm: 'FrozenBN', stride_in_1x1: false });
    expect(m.position_embedding).toEqual({ _target_: 'position_embedding/sine', num_pos_feats: 128, temperature: 10000, normalize: true, offset: -0.5 });
    expect(m.neck).toMatchObject({ out_channels: 256, num_outs: 4, kernel_size: 1, norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: 256 } });
    for (const part of [m.transformer.encoder, m.transformer.decoder]) {
      expect(part).toMatchObject({ embed_dim: 256, num_heads: 8, feedforward_dim: 2048, attn_dropout: 0, ffn_dropout: 0, num_layers: 6, num_feature_levels: 4 });
    }
    expect(m.transformer.two_stage_num_proposals).toBe(900);
    expect([m.num_classes, m.num_queries, m.dn_number, m.label_noise_ratio, m.box_noise_scale, m.prior_init, m.select_box_nums_for_evaluation]).toEqual([80, 900, 100, 0.5, 1.0, 0.01, 300]);
  });

  it('criterion: MixedMatcher 2/5/2, IA-BCE alpha 0.25 gamma 2, match_num [2,2,2,2,2,2,1], tau 1.5, weights 1/5/2 on every output', () => {
    const c = k2p.model.criterion;
    expect(c._target_).toBe('criterion/align_detr');
    expect(c.matcher).toEqual({ _target_: 'matcher/mixed', cost_class: 2, cost_bbox: 5, cost_giou: 2, cost_class_type: 'focal_loss_cost', alpha: 0.25, gamma: 2 });
    expect(c.class_loss).toMatchObject({ _target_: 'loss/ia_bce', alpha: 0.25, gamma: 2, min_quality: 0.01 });
    expect([c.match_num, c.tau, c.num_classes, c.two_stage_binary_cls]).toEqual([[2, 2, 2, 2, 2, 2, 1], 1.5, 80, false]);
    const suffixes = ['', '_0', '_1', '_2', '_3', '_4', '_enc', '_dn', '_dn_0', '_dn_1', '_dn_2', '_dn_3', '_dn_4'];
    const expected = Object.fromEntries(suffixes.flatMap((s) => [[`loss_class${s}`, 1], [`loss_bbox${s}`, 5], [`loss_giou${s}`, 2]]));
    expect(c.weight_dict).toEqual(expected);
  });

  it('training: AdamW lr 1e-4 (backbone x0.1), wd 1e-4, clip 0.1, 90k iterations, lr x0.1 at 11/12, batch 2 x 8', () => {
    const r = resolveConfig(k2) as Plain;
    expect([r.optimizer.lr, r.optimizer.weight_decay, r.optimizer.betas, r.optimizer.params.weight_decay_norm]).toEqual([1e-4, 1e-4, [0.9, 0.999], 0]);
    expect([r.optimizer.params.lr_factor_func('backbone.res2.0.conv1.weight'), r.optimizer.params.lr_factor_func('transformer.level_embeds'), r.optimizer.params.lr_factor_func('neck.convs.0.conv.weight')]).toEqual([0.1, 1, 1]);
    expect(r.train).toMatchObject({ max_iter: 90000, eval_period: 5000, log_period: 100, checkpointer: { period: 10000 }, clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } }, grad_accum_steps: 8 });
    expect(r.dataloader.train.batch_size * r.train.grad_accum_steps).toBe(16);
    const schedule = instantiate<ParamScheduler>(r.lr_multiplier);
    // detrex lr_multiplier_12ep: 1.0 until iteration 82,500 of 90,000, then 0.1; no warmup.
    expect([schedule.at(0), schedule.at(82499 / 90000), schedule.at(82501 / 90000), schedule.at(89999 / 90000)]).toEqual([1, 1, 0.1, 0.1]);
  });
});

describe('the other experiment configs', () => {
  it('_24ep = _12ep with 180k iterations, lr x0.1 at 20/24, its own output folder (position embedding and filter_empty kept)', async () => {
    const ours = plain(await load('aligndetr_k2_r50_4scale_24ep'));
    const expected = plain(applyOverrides(k2, ['train.max_iter=180000', 'lr_multiplier.epochs=24', 'lr_multiplier.decay_epochs=20', 'train.output_dir=./output/aligndetr_k2_24ep']));
    expect(ours).toEqual(expected);
  });

  it('k3 (the paper default) = k2 with match_num [3,3,3,3,3,3,1] and its own output folder', async () => {
    const ours = plain(await load('aligndetr_k3_r50_4scale_12ep'));
    expect(ours).toEqual(plain(applyOverrides(k2, ['model.criterion.match_num=[3,3,3,3,3,3,1]', 'train.output_dir=./output/aligndetr_k3_12ep'])));
  });

  it('match_num follows the decoder depth (last layer one-to-one) unless set as a list', async () => {
    expect(plain(applyOverrides(k2, ['model.transformer.decoder.num_layers=3'])).model.criterion.match_num).toEqual([2, 2, 2, 1]);
    expect(plain(applyOverrides(await load('aligndetr_k3_r50_4scale_12ep'), ['model.transformer.decoder.num_layers=2'])).model.criterion.match_num).toEqual([3, 3, 1]);
    expect(plain(applyOverrides(k2, ['model.transformer.decoder.num_layers=3', 'model.criterion.match_num=[1,2,2,1]'])).model.criterion.match_num).toEqual([1, 2, 2, 1]);
  });

  it("the project's default config is the small MNIST one", () => {
    expect(findConfigFile(undefined, 'align-detr')).toBe(join(dir, 'aligndetr_small_mnist.ts'));
  });
});

describe('AlignDETR options', () => {
  /** The resolved model options (children left as config nodes: the checks run before they are used). */
  const modelOptions = () => {
    const { _target_: _, ...opts } = (resolveConfig(k2) as Plain).model;
    return opts;
  };

  it('a misspelt option is an error naming it and the valid ones', () => {
    expect(() => new AlignDETR({ ...modelOptions(), num_querys: 900 })).toThrow(/AlignDETR: unknown option "num_querys" \(valid options: backbone, position_embedding/);
    expect(ALIGN_DETR_OPTION_KEYS).toContain('prior_init');
  });

  it('prior_init must be a probability', () => {
    expect(() => new AlignDETR({ ...modelOptions(), prior_init: 1.5 })).toThrow(/prior_init must be a probability in \(0, 1\), got 1.5/);
  });
});
