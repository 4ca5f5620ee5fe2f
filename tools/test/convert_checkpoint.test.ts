// tools/convert_checkpoint.ts: a real torch.save file (the transformer / head part of the
// aligndetr_r50_small fixture model) converted for the align-detr config with the fixture's sizes, then
// loaded back through train.init_checkpoint loading into a fresh model from the same config: every
// tensor, in PyTorch layout again, equals the .pth bit for bit (round trip through our native layout).
// Also a torchvision ResNet .pth (key converter), --strict, and the command line itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPth, readSafetensors, toFloat32Array, type Module, type RawTensor } from '@detr/core';
import { expectClose, fixturePath, loadFixture } from '@detr/core/testing';
import { torchvisionToDetectron2Key } from '@detr/backbones';
import { loadInitCheckpoint } from '@detr/engine';
import { instantiate } from '@detr/registry';
import { REPO_ROOT, findConfigFile, loadAndResolve } from '../cli_common';
import { main } from '../convert_checkpoint';

const HEAD_PTH = fixturePath('aligndetr_r50_small_head.pth');
const TV_PTH = fixturePath('resnet50_tv_head.pth');
const CONFIG = 'aligndetr_k2_r50_4scale_12ep';

/** The fixture model's sizes (fixtures/parity/README.md section 10) as overrides. */
function smallOverrides(): string[] {
  const c = loadFixture('aligndetr_r50_small').config;
  return [
    `model.num_classes=${c.num_classes}`,
    `model.num_queries=${c.num_queries}`,
    `model.transformer.encoder.num_layers=${c.enc_layers}`,
    `model.transformer.decoder.num_layers=${c.dec_layers}`,
    `model.criterion.match_num=${JSON.stringify([...Array(c.dec_layers).fill(2), 1])}`,
  ];
}

let dir: string;
let head: Map<string, RawTensor>;
const log: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'detr-convert-'));
  head = readPth(HEAD_PTH).tensors;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function buildModel(overrides: string[]): Promise<Module> {
  const cfg = await loadAndResolve(findConfigFile(CONFIG, 'align-detr'), overrides);
  return instantiate<Module>((cfg.resolved as Record<string, unknown>).model);
}

describe('convert_checkpoint', () => {
  it('round trip: .pth -> our safetensors -> train.init_checkpoint gives the .pth tensors back exactly', async () => {
    const out = join(dir, 'head.safetensors');
    const result = await main(['--project', 'align-detr', '--config-file', CONFIG, HEAD_PTH, out, ...smallOverrides()], (l) => log.push(l));
    expect(result.converter).toBeNull(); // detrex names load as they are
    expect(result.report.unexpected).toEqual([]);
    expect(result.report.shapeMismatch).toEqual([]);
    expect([...result.report.loaded].sort()).toEqual([...head.keys()].sort());
    expect(log.join('\n')).toContain(`loaded ${head.size} tensors`);

    const written = readSafetensors(out);
    expect(written.metadata).toMatchObject({ format: 'detr-ts', layout: 'native', source: 'aligndetr_r50_small_head.pth' });
    expect([...written.tensors.keys()].sort()).toEqual([...head.keys()].sort());

    await tf.setBackend('cpu');
    const fresh = await buildModel(smallOverrides());
    try {
      const lines: string[] = [];
      loadInitCheckpoint(fresh, out, (l) => lines.push(l));
      expect(lines.join('\n')).toContain(`(native layout): loaded ${head.size} tensors`);
      const state = fresh.stateDict('torch');
      let transposed = 0;
      for (const [key, raw] of head) {
        const ours = state.get(key)!;
        expectClose(ours, toFloat32Array(raw), 0, key);
        if (raw.shape.length === 2 && written.tensors.get(key)!.shape.join() !== raw.shape.join()) transposed++;
      }
      // Linear weights are stored [in, out] in the file, [out, in] in the .pth.
      expect(transposed).toBeGreaterThan(10);
      tf.dispose([...state.values()]);
    } finally {
      fresh.dispose();
    }
  });

  it('a torchvision ResNet .pth goes through the key converter to backbone.* names', async () => {
    const out = join(dir, 'tv.safetensors');
    const result = await main(['--project', 'align-detr', '--config-file', CONFIG, TV_PTH, out, ...smallOverrides()], () => {});
    expect(result.converter).toMatch(/torchvision ResNet keys -> backbone/);
    expect(result.report.unexpected).toEqual([]);
    const tv = readPth(TV_PTH).tensors;
    const expected = [...tv.keys()].filter((k) => !k.endsWith('num_batches_tracked')).map((k) => `backbone.${torchvisionToDetectron2Key(k)}`);
    expect([...readSafetensors(out).tensors.keys()].sort()).toEqual(expected.sort());
  });

  it('--strict refuses a partial checkpoint and writes nothing; bad arguments are clear errors', async () => {
    const out = join(dir, 'strict.safetensors');
    await expect(main(['--project', 'align-detr', '--config-file', CONFIG, '--strict', HEAD_PTH, out, ...smallOverrides()], () => {})).rejects.toThrow(
      /aligndetr_r50_small_head\.pth does not match the model \(--strict\):\nloaded 126 tensors\nmissing keys \(292\): backbone\.stem\.conv1\.weight/,
    );
    expect(() => readSafetensors(out)).toThrow();
    await expect(main(['--project', 'align-detr', HEAD_PTH], () => {})).rejects.toThrow(/expected IN and OUT files/);
    await expect(main(['--project', 'align-detr', HEAD_PTH, join(dir, 'x.pth')], () => {})).rejects.toThrow(/must be a \.safetensors file/);
    await expect(main(['--project', 'align-detr', join(dir, 'missing.pth'), join(dir, 'x.safetensors')], () => {})).rejects.toThrow(/checkpoint not found/);
  });

  it('runs from the command line', () => {
    const out = join(dir, 'cli.safetensors');
    const text = execFileSync('npx', ['tsx', 'tools/convert_checkpoint.ts', '--project', 'align-detr', '--config-file', CONFIG, TV_PTH, out, 'model.transformer.encoder.num_layers=1', 'model.transformer.decoder.num_layers=1', 'model.criterion.match_num=[2,1]'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(text).toMatch(/\[convert\] resnet50_tv_head\.pth: torchvision ResNet keys -> backbone/);
    expect(text).toMatch(/\[convert\] wrote \d+ tensors to .*cli\.safetensors/);
    expect(readSafetensors(out).tensors.has('backbone.stem.conv1.weight')).toBe(true);
  });
});
