/**
 * Checkpoints: `<name>.safetensors` (model weights in our native layout, plus `ema.`-prefixed EMA
 * weights), `<name>.optim.safetensors` (AdamW moments) and `<name>.json` (trainer state: iteration,
 * RNG and data-loader states, ...). Every file is written atomically, and the `last_checkpoint`
 * pointer (as detectron2's) is replaced only after all three are on disk, so a process killed while
 * writing never replaces the last good checkpoint.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { rawToTensor, readJsonFile, readPth, readSafetensors, tensorToRaw, writeFileAtomic, writeSafetensors, type RawTensor } from '@detr/core';

export const LAST_CHECKPOINT = 'last_checkpoint';

export interface CheckpointData {
  model: Map<string, tf.Tensor>;
  ema?: Map<string, tf.Tensor>;
  optimizer?: Map<string, tf.Tensor>;
  state: Record<string, unknown>;
}

function toRaw(map: Map<string, tf.Tensor>, prefix = ''): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [k, t] of map) out.set(prefix + k, tensorToRaw(t));
  return out;
}

function fromRaw(map: Map<string, RawTensor>, what: string): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [k, r] of map) out.set(k, rawToTensor(r, `${what}: ${k}`));
  return out;
}

export class Checkpointer {
  constructor(readonly dir: string, readonly maxToKeep = 3) {}

  /** Write a checkpoint and point `last_checkpoint` at it. */
  save(name: string, data: CheckpointData): string {
    mkdirSync(this.dir, { recursive: true });
    const weights = toRaw(data.model);
    if (data.ema) for (const [k, v] of toRaw(data.ema, 'ema.')) weights.set(k, v);
    writeSafetensors(join(this.dir, `${name}.safetensors`), weights, { format: 'detr-ts', layout: 'native' });
    if (data.optimizer) writeSafetensors(join(this.dir, `${name}.optim.safetensors`), toRaw(data.optimizer), { format: 'detr-ts' });
    writeFileAtomic(join(this.dir, `${name}.json`), JSON.stringify({ ...data.state, has_optimizer: !!data.optimizer, has_ema: !!data.ema }, null, 1));
    writeFileAtomic(join(this.dir, LAST_CHECKPOINT), name);
    this.prune(name);
    return join(this.dir, `${name}.safetensors`);
  }

  /** Keep the newest `maxToKeep` periodic checkpoints (`model_NNNNNNN`); others are never pruned. */
  private prune(current: string): void {
    if (this.maxToKeep <= 0 || !existsSync(this.dir)) return;
    const periodic = readdirSync(this.dir)
      .filter((f) => /^model_\d+\.safetensors$/.test(f))
      .map((f) => f.replace('.safetensors', ''))
      .sort();
    for (const name of periodic.slice(0, Math.max(0, periodic.length - this.maxToKeep))) {
      if (name === current) continue;
      for (const ext of ['.safetensors', '.optim.safetensors', '.json']) rmSync(join(this.dir, name + ext), { force: true });
    }
  }

  /** Name of the checkpoint `last_checkpoint` points at, or null. */
  latest(): string | null {
    const p = join(this.dir, LAST_CHECKPOINT);
    if (!existsSync(p)) return null;
    const name = readFileSync(p, 'utf8').trim();
    return existsSync(join(this.dir, `${name}.safetensors`)) ? name : null;
  }

  /** Load a checkpoint of this folder by name. */
  load(name: string): CheckpointData {
    const base = join(this.dir, name);
    const file = readSafetensors(`${base}.safetensors`);
    const model = new Map<string, RawTensor>();
    const ema = new Map<string, RawTensor>();
    for (const [k, v] of file.tensors) (k.startsWith('ema.') ? ema : model).set(k.startsWith('ema.') ? k.slice(4) : k, v);
    const state = readJsonFile(`${base}.json`, 'checkpoint state') as Record<string, unknown>;
    const optimizer = state.has_optimizer ? fromRaw(readSafetensors(`${base}.optim.safetensors`).tensors, `${name}.optim`) : undefined;
    return { model: fromRaw(model, name), ema: ema.size ? fromRaw(ema, `${name} ema`) : undefined, optimizer, state };
  }
}

export function disposeCheckpoint(data: CheckpointData): void {
  for (const m of [data.model, data.ema, data.optimizer]) if (m) for (const t of m.values()) t.dispose();
}

/**
 * Weights for `train.init_checkpoint`: a PyTorch .pth (detrex / Align-DETR / torchvision checkpoints,
 * torch layout) or a safetensors file (ours: native layout, or any other: torch layout).
 */
export function readWeightsFile(path: string): { tensors: Map<string, tf.Tensor>; layout: 'native' | 'torch' } {
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  if (path.endsWith('.pth') || path.endsWith('.pt') || path.endsWith('.pkl')) {
    if (path.endsWith('.pkl')) throw new Error(`${basename(path)}: detectron2 .pkl checkpoints are not supported; convert them to .pth or safetensors`);
    // Training checkpoints also pickle trainer state (optimizer, scheduler, iteration): unknown classes
    // there are kept as inert objects; only the state dict's tensors are used.
    const { tensors } = readPth(path, { unknownGlobals: 'opaque' });
    return { tensors: fromRaw(tensors, basename(path)), layout: 'torch' };
  }
  const file = readSafetensors(path);
  const tensors = new Map<string, RawTensor>();
  for (const [k, v] of file.tensors) if (!k.startsWith('ema.')) tensors.set(k, v);
  return { tensors: fromRaw(tensors, basename(path)), layout: file.metadata.layout === 'native' ? 'native' : 'torch' };
}
