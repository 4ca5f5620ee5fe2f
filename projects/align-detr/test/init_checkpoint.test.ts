// train.init_checkpoint with ImageNet backbone weights: a real torchvision `torch.save` file
// (fixtures/parity/resnet50_tv_head.pth: conv1, bn1, layer1 of ResNet-50) and the same weights in
// detectron2 names as safetensors load into an Align-DETR detector's `backbone.*` through the
// registered checkpoint converters, with the load report naming what was loaded and what is missing;
// detector checkpoints are left to load by name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPth, toFloat32Array, writeSafetensors, type RawTensor } from '@detr/core';
import { expectClose, fixturePath } from '@detr/core/testing';
import { detectron2ResNetConverter, torchvisionResNetConverter, torchvisionToDetectron2Key, torchvisionToDetectron2Keys } from '@detr/backbones';
import { loadInitCheckpoint } from '@detr/engine';
import { applyOverrides, instantiate, listParts, loadConfigFile, resolveConfig } from '@detr/registry';
import { REPO_ROOT } from '../../../tools/cli_common';
import type { AlignDETR } from '../src/index';

const TV_PTH = fixturePath('resnet50_tv_head.pth');
/** The R50 model config with a tiny transformer: the backbone is what is loaded here. */
const SMALL_HEAD = ['model.embed_dim=32', 'model.neck.out_channels=32', 'model.neck.norm_layer={"type":"GroupNorm","num_groups":8,"num_channels":32}', 'model.position_embedding.num_pos_feats=16', 'model.num_queries=10', 'model.transformer.encoder.num_layers=1', 'model.transformer.decoder.num_layers=1', 'model.criterion.match_num=[2,1]',
  ...['encoder', 'decoder'].flatMap((p) => [`model.transformer.${p}.embed_dim=32`, `model.transformer.${p}.num_heads=4`, `model.transformer.${p}.feedforward_dim=64`])];

let model: AlignDETR;
let tv: Map<string, RawTensor>;
let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg = resolveConfig(applyOverrides(await loadConfigFile(join(REPO_ROOT, 'projects/align-detr/configs/models/aligndetr_r50.ts')), SMALL_HEAD)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  model = instantiate<AlignDETR>(cfg.model);
  tv = readPth(TV_PTH).tensors;
  dir = mkdtempSync(join(tmpdir(), 'detr-init-ckpt-'));
}, 120_000);

afterAll(() => {
  model?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every backbone.* tensor of the model (torch layout) equals the checkpoint entry it came from. */
function expectBackboneFrom(source: Map<string, RawTensor>, toModelKey: (k: string) => string | null): number {
  const state = model.stateDict('torch');
  let checked = 0;
  for (const [key, raw] of source) {
    const ours = toModelKey(key);
    if (ours === null) continue;
    expectClose(state.get(ours)!, toFloat32Array(raw), 0, `${key} -> ${ours}`);
    checked++;
  }
  tf.dispose([...state.values()]);
  return checked;
}

describe('init_checkpoint with ImageNet ResNet weights', () => {
  it('both converters are registered', () => {
    expect(listParts('checkpoint_converter')).toEqual(expect.arrayContaining(['torchvision_resnet', 'detectron2_resnet']));
  });

  it('a torchvision .pth loads into backbone.* with a report of loaded, missing and no unexpected keys', () => {
    const log: string[] = [];
    loadInitCheckpoint(model, TV_PTH, (l) => log.push(l));
    const text = log.join('\n');
    const kept = [...tv.keys()].filter((k) => !k.endsWith('num_batches_tracked'));
    expect(tv.size).toBeGreaterThan(kept.length); // the file has BN num_batches_tracked entries, which are dropped
    expect(text).toContain('torchvision ResNet keys -> backbone.*');
    expect(text).toContain(`loaded ${kept.length} tensors`);
    expect(text).toContain(`missing keys (${model.stateDictShapes().size - kept.length})`);
    expect(text).toMatch(/missing keys \(\d+\): backbone\.res2\.1\.|missing keys \(\d+\): backbone\.res3\./);
    expect(text).not.toContain('unexpected keys');
    // conv1.weight -> backbone.stem.conv1.weight, layer1.0.bn2.running_var -> backbone.res2.0.conv2.norm.running_var, ...
    const checked = expectBackboneFrom(tv, (k) => (k.endsWith('num_batches_tracked') ? null : `backbone.${torchvisionToDetectron2Key(k)}`));
    expect(checked).toBe(kept.length);
  });

  it('the same weights in detectron2 names (safetensors) load through the detectron2 converter', () => {
    const d2 = torchvisionToDetectron2Keys(tv);
    const file = join(dir, 'r50_d2_head.safetensors');
    writeSafetensors(file, d2, { format: 'detectron2 names' });
    // Reset the stem so the load is visible.
    const stem = model.stateDict().get('backbone.stem.conv1.weight') as tf.Variable;
    tf.tidy(() => stem.assign(tf.zerosLike(stem)));
    const log: string[] = [];
    loadInitCheckpoint(model, file, (l) => log.push(l));
    const text = log.join('\n');
    expect(text).toContain('detectron2 ResNet keys -> backbone.*');
    expect(text).toContain(`loaded ${d2.size} tensors`);
    expect(text).not.toContain('unexpected keys');
    expect(expectBackboneFrom(d2, (k) => `backbone.${k}`)).toBe(d2.size);
  });

  it('converters claim only bare ResNet state dicts (not detector checkpoints, not partial matches)', () => {
    const tvConv = torchvisionResNetConverter();
    const d2Conv = detectron2ResNetConverter();
    const tvKeys = [...tv.keys()];
    const d2Keys = [...torchvisionToDetectron2Keys(tv).keys()];
    expect([tvConv.matches(tvKeys), d2Conv.matches(tvKeys)]).toEqual([true, false]);
    expect([tvConv.matches(d2Keys), d2Conv.matches(d2Keys)]).toEqual([false, true]);
    const detrexKeys = ['backbone.stem.conv1.weight', 'transformer.level_embeds', 'class_embed.0.bias'];
    expect([tvConv.matches(detrexKeys), d2Conv.matches(detrexKeys)]).toEqual([false, false]);
    // A torchvision ResNet with a foreign key is not a bare backbone: left alone (reported as unexpected instead).
    expect(tvConv.matches([...tvKeys, 'head.weight'])).toBe(false);
    expect(d2Conv.matches([...d2Keys, 'transformer.level_embeds'])).toBe(false);
  });
});
