// H-Deformable-DETR's structure on the cpu backend: state-dict keys and torch shapes against the keys
// detrex's modules define (written out below from the upstream __init__s, not from our output), detrex's
// head init, the registry / lazy-config build, option errors, the hybrid self-attention mask against a
// hand-built one, and get_proposal_pos_embed against a float64 loop of the upstream formula.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedEverything } from '@detr/core';
import { expectClose, expectExact } from '@detr/core/testing';
import { ChannelMapper, ResNet } from '@detr/backbones';
import { HybridCriterion } from '@detr/criteria';
import { HungarianMatcher } from '@detr/matchers';
import { L, instantiate, resolveConfig, resolvePart } from '@detr/registry';
import { PositionEmbeddingSine } from '@detr/transformers';
import {
  HDeformableDETR,
  HDeformableDetrTransformer,
  HDeformableDetrTransformerDecoder,
  HDeformableDetrTransformerEncoder,
  getProposalPosEmbed,
  hybridSelfAttnMask,
} from '../src/index';
import { TINY, buildTinyHDetr, tinyBackbone, tinyCriterion } from './tiny_model';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Shape = number[];

/** detectron2 ResNet-18 (BasicStem + BasicBlock x [2,2,2,2], FrozenBN) keys of stem, res2..res4. */
function resnet18Keys(): string[] {
  const conv = (p: string) => [`${p}.weight`, `${p}.norm.weight`, `${p}.norm.bias`, `${p}.norm.running_mean`, `${p}.norm.running_var`];
  const keys = conv('backbone.stem.conv1');
  for (const [stage, shortcut] of [['res2', false], ['res3', true], ['res4', true]] as const) {
    for (let blk = 0; blk < 2; blk++) {
      const p = `backbone.${stage}.${blk}`;
      // BasicBlock.__init__: shortcut (when in != out channels), conv1, conv2.
      if (shortcut && blk === 0) keys.push(...conv(`${p}.shortcut`));
      keys.push(...conv(`${p}.conv1`), ...conv(`${p}.conv2`));
    }
  }
  return keys;
}

/**
 * Every non-backbone key of detrex's HDeformableDETR.state_dict() with its torch shape, in order, from
 * the module definitions: HDeformableDETR.__init__ registers backbone, position_embedding (no tensors),
 * neck, query_embedding, transformer, class_embed, bbox_embed (then criterion: no tensors with focal loss);
 * HDeformableDetrTransformer: level_embeds, encoder, decoder, enc_output, enc_output_norm, pos_trans,
 * pos_trans_norm; the decoder gets bbox_embed then class_embed attached after its layers.
 */
function expectedHeadKeys(t: { embed: number; ffn: number; heads: number; levels: number; encLayers: number; decLayers: number; q: number; classes: number; inChannels: number[] }): [string, Shape][] {
  const c = t.embed;
  const out: [string, Shape][] = [];
  const linear = (p: string, i: number, o: number) => out.push([`${p}.weight`, [o, i]], [`${p}.bias`, [o]]);
  const norm = (p: string, n: number) => out.push([`${p}.weight`, [n]], [`${p}.bias`, [n]]);
  // detrex MultiScaleDeformableAttention.__init__: sampling_offsets, attention_weights, value_proj, output_proj.
  const msda = (p: string) => {
    linear(`${p}.sampling_offsets`, c, t.heads * t.levels * 4 * 2);
    linear(`${p}.attention_weights`, c, t.heads * t.levels * 4);
    linear(`${p}.value_proj`, c, c);
    linear(`${p}.output_proj`, c, c);
  };
  // detrex FFN: layers = Sequential(Sequential(Linear, act, Dropout), Linear, Dropout).
  const ffn = (p: string) => {
    linear(`${p}.layers.0.0`, c, t.ffn);
    linear(`${p}.layers.1`, t.ffn, c);
  };
  const mlp = (p: string, dims: number[]) => dims.slice(1).forEach((o, i) => linear(`${p}.layers.${i}`, dims[i], o));

  t.inChannels.forEach((cin, i) => {
    out.push([`neck.convs.${i}.conv.weight`, [c, cin, 1, 1]], [`neck.convs.${i}.conv.bias`, [c]]);
    norm(`neck.convs.${i}.norm`, c);
  });
  out.push(['query_embedding.weight', [t.q, c]]);
  out.push(['transformer.level_embeds', [t.levels, c]]);
  for (let l = 0; l < t.encLayers; l++) {
    const p = `transformer.encoder.layers.${l}`;
    msda(`${p}.attentions.0`);
    ffn(`${p}.ffns.0`);
    norm(`${p}.norms.0`, c);
    norm(`${p}.norms.1`, c);
  }
  for (let l = 0; l < t.decLayers; l++) {
    const p = `transformer.decoder.layers.${l}`;
    // torch.nn.MultiheadAttention: in_proj_weight, in_proj_bias, out_proj.
    out.push([`${p}.attentions.0.attn.in_proj_weight`, [3 * c, c]], [`${p}.attentions.0.attn.in_proj_bias`, [3 * c]]);
    linear(`${p}.attentions.0.attn.out_proj`, c, c);
    msda(`${p}.attentions.1`);
    ffn(`${p}.ffns.0`);
    for (let n = 0; n < 3; n++) norm(`${p}.norms.${n}`, c);
  }
  const numPred = t.decLayers + 1;
  const boxHeads = (prefix: string) => { for (let i = 0; i < numPred; i++) mlp(`${prefix}.${i}`, [c, c, c, 4]); };
  const classHeads = (prefix: string) => { for (let i = 0; i < numPred; i++) linear(`${prefix}.${i}`, c, t.classes); };
  boxHeads('transformer.decoder.bbox_embed');
  classHeads('transformer.decoder.class_embed');
  linear('transformer.enc_output', c, c);
  norm('transformer.enc_output_norm', c);
  linear('transformer.pos_trans', 2 * c, 2 * c);
  norm('transformer.pos_trans_norm', 2 * c);
  classHeads('class_embed');
  boxHeads('bbox_embed');
  return out;
}

describe('HDeformableDETR state dict', () => {
  it('has detrex key names and torch shapes, in state_dict order', () => {
    seedEverything(1);
    const model = buildTinyHDetr();
    const shapes = [...model.stateDictShapes('torch').entries()];
    const backbone = shapes.filter(([k]) => k.startsWith('backbone.')).map(([k]) => k);
    expect(backbone.sort()).toEqual(resnet18Keys().sort());
    const head = shapes.filter(([k]) => !k.startsWith('backbone.'));
    const expected = expectedHeadKeys({ ...TINY, q: TINY.q1 + TINY.q2, inChannels: [128, 256] });
    expect(head.map(([k]) => k)).toEqual(expected.map(([k]) => k));
    expect(head).toEqual(expected);
    // Tied heads: transformer.decoder.{class,bbox}_embed are the detector's modules, so each parameter
    // is listed once, under its first name in registration order (torch named_parameters: the transformer's).
    expect(model.transformer.decoder.class_embed).toBe(model.class_embed);
    expect(model.transformer.decoder.bbox_embed).toBe(model.bbox_embed);
    const params = model.namedParameters().map(([k]) => k);
    expect(params.filter((k) => k.startsWith('class_embed.') || k.startsWith('bbox_embed.'))).toEqual([]);
    expect(params.filter((k) => k.startsWith('transformer.decoder.class_embed.') || k.startsWith('transformer.decoder.bbox_embed.')).length).toBe(2 * 3 + 6 * 3);
    model.dispose();
  });

  it('loads a torch-layout state dict (a detrex checkpoint) by name, tied head keys included', () => {
    seedEverything(3);
    const source = buildTinyHDetr();
    const target = buildTinyHDetr();
    const torchDict = source.stateDict('torch');
    const report = target.loadStateDict(torchDict, { strict: true, layout: 'torch' });
    expect(report.loaded.length).toBe(torchDict.size);
    for (const [k, v] of target.stateDict('native')) expectExact(v, source.stateDict('native').get(k)!, k);
    tf.dispose([...torchDict.values()]);
    source.dispose();
    target.dispose();
  });

  it('initialises the heads as detrex: deep copies, prior bias, zero last box layer, neck xavier with zero bias', () => {
    seedEverything(2);
    const model = buildTinyHDetr();
    const prior = -Math.log((1 - 0.01) / 0.01);
    const first = model.class_embed.at(0).stateDict();
    for (let i = 0; i <= TINY.decLayers; i++) {
      expectClose(model.class_embed.at(i).getParameter('bias').variable, new Float32Array(TINY.classes).fill(prior), 1e-6, `class_embed.${i}.bias`);
      expectExact(model.class_embed.at(i).getParameter('weight').variable, first.get('weight')!, `class_embed.${i}.weight (deep copy)`);
      const lastBox = model.bbox_embed.at(i).layers.at(-1);
      expect(tf.tidy(() => lastBox.getParameter('weight').variable.abs().sum().dataSync()[0])).toBe(0);
      expect(tf.tidy(() => lastBox.getParameter('bias').variable.abs().sum().dataSync()[0])).toBe(0);
    }
    for (const [name, v] of model.neck.stateDict()) {
      if (name.endsWith('conv.bias')) expect(tf.tidy(() => v.abs().sum().dataSync()[0]), name).toBe(0);
    }
    // query_embedding is nn.Embedding's N(0, 1), not xavier.
    const std = tf.tidy(() => tf.moments(model.query_embedding!.weight).variance.sqrt().dataSync()[0]);
    expect(std).toBeGreaterThan(0.8);
    expect(std).toBeLessThan(1.2);
    model.dispose();
  });
});

describe('HDeformableDETR registry and options', () => {
  it('is detector/h_deformable_detr and builds from a lazy config with detrex argument names', () => {
    expect(resolvePart('detector/h_deformable_detr')).toBe(HDeformableDETR);
    expect(resolvePart('transformer/h_deformable_detr')).toBe(HDeformableDetrTransformer);
    expect(resolvePart('decoder/h_deformable_detr')).toBe(HDeformableDetrTransformerDecoder);
    expect(resolvePart('encoder/h_deformable_detr')).toBe(HDeformableDetrTransformerEncoder);
    const layer = { embed_dim: 32, num_heads: 2, feedforward_dim: 64, attn_dropout: 0, ffn_dropout: 0, num_feature_levels: '${..num_feature_levels}' };
    const cfg = {
      model: L('detector/h_deformable_detr')({
        backbone: L(ResNet)({ depth: 18, out_features: ['res3', 'res4'], freeze_at: 1 }),
        position_embedding: L(PositionEmbeddingSine)({ num_pos_feats: 16, temperature: 10000, normalize: true, offset: -0.5 }),
        neck: L(ChannelMapper)({ input_shapes: { res3: { channels: 128 }, res4: { channels: 256 } }, in_features: ['res3', 'res4'], out_channels: 32, num_outs: 2, norm_layer: { type: 'GroupNorm', num_groups: 8, num_channels: 32 } }),
        transformer: L('transformer/h_deformable_detr')({
          encoder: L('encoder/h_deformable_detr')({ ...layer, num_layers: 1 }),
          decoder: L('decoder/h_deformable_detr')({ ...layer, num_layers: 2, look_forward_twice: true }),
          as_two_stage: '${..as_two_stage}',
          num_feature_levels: 2,
          two_stage_num_proposals: 9,
          mixed_selection: true,
        }),
        embed_dim: 32,
        num_classes: 4,
        num_queries_one2one: 3,
        num_queries_one2many: 6,
        criterion: L(HybridCriterion)({ num_classes: '${..num_classes}', matcher: L(HungarianMatcher)({}), weight_dict: { loss_class: 2, loss_bbox: 5, loss_giou: 2 }, k_one2many: '${..k_one2many}', lambda_one2many: '${..lambda_one2many}' }),
        with_box_refine: true,
        as_two_stage: true,
        select_box_nums_for_evaluation: 5,
        k_one2many: 3,
        lambda_one2many: 0.5,
      }),
    };
    const model = instantiate<HDeformableDETR>(resolveConfig(cfg).model);
    expect(model).toBeInstanceOf(HDeformableDETR);
    expect(model.numQueries).toBe(9);
    expect(model.query_embedding!.weight.shape).toEqual([9, 32]);
    expect(model.transformer.decoder.numLayers).toBe(2);
    expect((model.criterion as HybridCriterion).kOne2many).toBe(3);
    // detrex HDeformableDETR.forward: every weight also under `<key>_one2many`.
    expect(model.weightDict).toEqual({ loss_class: 2, loss_class_one2many: 2, loss_bbox: 5, loss_bbox_one2many: 5, loss_giou: 2, loss_giou_one2many: 2 });
    model.dispose();
  });

  it('rejects inconsistent or unsupported settings with the option named', () => {
    // Every check fires before the backbone is registered, so one ResNet serves all attempts.
    const backbone = tinyBackbone();
    const build = (o: Parameters<typeof buildTinyHDetr>[0]) => () => buildTinyHDetr({ ...o, backbone }).dispose();
    expect(build({ num_queries_one2many: 11 })).toThrow(/two_stage_num_proposals 18 must equal num_queries_one2one \+ num_queries_one2many = 17/);
    expect(build({ num_queries_one2many: 0, k_one2many: 2 })).toThrow(/k_one2many=2 needs num_queries_one2many > 0/);
    expect(build({ with_box_refine: false })).toThrow(/with_box_refine=false is not implemented/);
    expect(build({ as_two_stage: false })).toThrow(/as_two_stage=false is not implemented/);
    expect(build({ mixed_selection: false })).toThrow(/mixed_selection false != the transformer's true/);
    expect(build({ criterion: tinyCriterion(3) })).toThrow(/k_one2many 2 != the criterion's k_one2many 3/);
    expect(build({ criterion: tinyCriterion(2, 0.5) })).toThrow(/lambda_one2many 1 != the criterion's lambda_one2many 0.5/);
    expect(build({ select_box_nums_for_evaluation: 19 })).toThrow(/select_box_nums_for_evaluation 19 exceeds num_queries_one2one x num_classes = 18/);
    expect(build({ num_clases: 3 } as never)).toThrow(/unknown option\(s\) num_clases/);
    expect(() => new HDeformableDetrTransformer({ encoder: new HDeformableDetrTransformerEncoder({ embed_dim: 8, num_heads: 2 }), decoder: new HDeformableDetrTransformerDecoder({ embed_dim: 8, num_heads: 2 }) }))
      .toThrow(/as_two_stage=false .* is not implemented/);
    backbone.dispose();
  });
});

describe('hybridSelfAttnMask', () => {
  it('blocks one-to-one <-> one-to-many in both directions and nothing else (detrex self_attn_mask)', () => {
    const q1 = 3;
    const q = 7;
    // Hand-built: rows are queries, columns keys; true = blocked.
    const expected = [
      [0, 0, 0, 1, 1, 1, 1],
      [0, 0, 0, 1, 1, 1, 1],
      [0, 0, 0, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0, 0],
      [1, 1, 1, 0, 0, 0, 0],
      [1, 1, 1, 0, 0, 0, 0],
      [1, 1, 1, 0, 0, 0, 0],
    ];
    const mask = hybridSelfAttnMask(q1, q);
    expect(mask.dtype).toBe('bool');
    expect(mask.shape).toEqual([q, q]);
    expect(mask.arraySync()).toEqual(expected); // tfjs reads bool tensors back as 0 / 1
    mask.dispose();
    const none = hybridSelfAttnMask(4, 4);
    expect(none.any().dataSync()[0]).toBe(0);
    none.dispose();
    expect(() => hybridSelfAttnMask(5, 4)).toThrow(/num_queries_one2one \(5\) <= num_queries \(4\)/);
  });
});

describe('getProposalPosEmbed', () => {
  it('is detrex get_proposal_pos_embed: sigmoid * 2pi / dim_t, sin/cos interleaved, blocks x, y, w, h', () => {
    const F = 8;
    const T = 10000;
    const logits = [[[-2.5, 0.3, 1.7, -0.4], [0.0, -1.1, 0.9, 3.2]]]; // [1, 2, 4], distinct coordinates
    const got = tf.tidy(() => getProposalPosEmbed(tf.tensor3d(logits), { num_pos_feats: F, temperature: T }));
    expect(got.shape).toEqual([1, 2, 4 * F]);
    // Float64 loop of the upstream code: pos[..., c, i] = sigmoid(p_c) * 2pi / T^(2 floor(i/2) / F);
    // stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), 4).flatten(2) -> channel c*F + i.
    const ref: number[] = [];
    for (const box of logits[0]) {
      for (const p of box) {
        for (let i = 0; i < F; i++) {
          const a = (1 / (1 + Math.exp(-p))) * 2 * Math.PI / Math.pow(T, (2 * Math.floor(i / 2)) / F);
          ref.push(i % 2 === 0 ? Math.sin(a) : Math.cos(a));
        }
      }
    }
    expectClose(got, ref, 1e-5, 'proposal pos embed');
    got.dispose();
    expect(() => getProposalPosEmbed(tf.zeros([2, 4]))).toThrow(/proposals must be \[B,K,4\]/);
  });
});
