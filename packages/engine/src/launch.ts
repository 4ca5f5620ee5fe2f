/**
 * From a resolved config to a run (detrex `tools/train_net.py` main): choose the backend, seed,
 * prepare datasets, build the model, then train (with evaluation, checkpoints, metrics, plots), evaluate
 * a checkpoint, or run inference on image files. Everything a person wants to open is written to
 * `train.output_dir`: config.yaml, metrics.jsonl, loss.png, ap.png, visualizations/, checkpoints/.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  formatLoadReport,
  getGlobalRng,
  seedEverything,
  selectBackend,
  writeFileAtomic,
  type LoadReport,
  type Module,
  type RngState,
} from '@detr/core';
import { formatConfig, instantiate, listParts, resolvePart, runAsyncSetup, type ConfigNode } from '@detr/registry';
import { Checkpointer, disposeCheckpoint, readWeightsFile } from './checkpoint';
import { ModelEMA } from './ema';
import { evaluateDetector, type EvaluationResult } from './evaluation';
import { CheckpointHook } from './hooks/checkpoint';
import { EvalHook } from './hooks/evaluation';
import { MetricsHook, MetricsLog } from './hooks/metrics';
import { PlotHook } from './hooks/plots';
import { ProgressHook } from './hooks/progress';
import type { AdamW } from './optim/adamw';
import type { ParamScheduler } from './optim/lr_schedule';
import { NonFiniteLossError, Trainer } from './trainer';
import { isTrainableDetector, type EvalLoader, type TrainLoader } from './types';
import { inferOnImages } from './inference';

export interface LaunchOptions {
  mode: 'train' | 'eval' | 'infer';
  resume?: boolean;
  /** Image files for mode 'infer'. */
  inputs?: string[];
  backend?: string;
  threads?: number;
  log?: (line: string) => void;
}

export interface LaunchResult {
  outputDir: string;
  evaluation?: EvaluationResult;
  checkpoint?: string;
}

type AnyConfig = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A checkpoint key converter (kind `checkpoint_converter`): torchvision / detectron2 names to ours. */
export interface CheckpointConverter {
  matches(keys: string[]): boolean;
  convert(tensors: Map<string, tf.Tensor>): Map<string, tf.Tensor>;
  description: string;
}

/**
 * Rename checkpoint keys with the first registered converter that recognises them (torchvision or
 * detectron2 ResNet names -> `backbone.*`); other checkpoints are returned unchanged (converter null).
 */
export function convertCheckpointKeys(tensors: Map<string, tf.Tensor>): { tensors: Map<string, tf.Tensor>; converter: string | null } {
  for (const id of listParts('checkpoint_converter')) {
    const conv = (resolvePart(id, 'checkpoint_converter') as () => CheckpointConverter)();
    if (conv.matches([...tensors.keys()])) return { tensors: conv.convert(tensors), converter: conv.description };
  }
  return { tensors, converter: null };
}

/** Load `init_checkpoint` non-strictly (converting key names when needed) and return the load report. */
export function loadInitCheckpoint(model: Module, path: string, log: (l: string) => void): LoadReport {
  const { tensors, layout } = readWeightsFile(path);
  const { tensors: named, converter } = convertCheckpointKeys(tensors);
  if (converter) log(`[checkpoint] ${basename(path)}: ${converter}`);
  const report = model.loadStateDict(named, { strict: false, layout });
  log(`[checkpoint] loaded ${basename(path)} (${layout} layout): ${formatLoadReport(report)}`);
  for (const t of new Set([...tensors.values(), ...named.values()])) t.dispose();
  return report;
}

function requireNode(cfg: AnyConfig, path: string): AnyConfig {
  const v = path.split('.').reduce<AnyConfig | undefined>((n, k) => (n == null ? undefined : n[k]), cfg);
  if (v == null) throw new Error(`the config has no "${path}" (needed for this run)`);
  return v;
}

export async function launch(cfg: { resolved: ConfigNode; file?: string }, opts: LaunchOptions): Promise<LaunchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = cfg.resolved as AnyConfig;
  const train = requireNode(r, 'train');
  const outputDir = resolve(String(train.output_dir ?? './output'));
  mkdirSync(outputDir, { recursive: true });
  writeFileAtomic(join(outputDir, 'config.yaml'), formatConfig(r));

  const backend = await selectBackend({ backend: opts.backend ?? (train.backend || undefined), threads: opts.threads, log });
  const memoryCheck = backend.memoryCheck;
  seedEverything(Number(train.seed ?? 42));
  await runAsyncSetup(r);

  const model = instantiate<Module>(requireNode(r, 'model'));
  if (!isTrainableDetector(model)) {
    throw new Error(`model ${model?.constructor?.name} does not implement forwardTrain(batch) and predict(batch)`);
  }
  log(`[model] ${model.constructor.name}: ${(model.numParameters() / 1e6).toFixed(2)} M parameters (${(model.numParameters(true) / 1e6).toFixed(2)} M trainable)`);
  const checkpointer = new Checkpointer(join(outputDir, 'checkpoints'), Number(train.checkpointer?.max_to_keep ?? 3));

  if (opts.mode === 'infer') {
    const weights = train.init_checkpoint || (checkpointer.latest() ? join(checkpointer.dir, `${checkpointer.latest()}.safetensors`) : '');
    if (weights) loadInitCheckpoint(model, weights, log);
    else log('[infer] warning: no train.init_checkpoint and no checkpoint in the output folder: running an untrained model');
    await inferOnImages(model, r, opts.inputs ?? [], join(outputDir, 'inference'), log);
    return { outputDir };
  }

  const testLoader = instantiate<EvalLoader>(requireNode(r, 'dataloader.test'));
  if (opts.mode === 'eval') {
    const weights = train.init_checkpoint || (checkpointer.latest() ? join(checkpointer.dir, `${checkpointer.latest()}.safetensors`) : '');
    if (weights) loadInitCheckpoint(model, weights, log);
    else throw new Error('--eval-only needs train.init_checkpoint=FILE or a checkpoint in the output folder');
    const evaluation = evaluateDetector(model, testLoader, { print: log });
    writeFileAtomic(join(outputDir, 'eval_results.json'), JSON.stringify({ bbox: evaluation.named, per_category: evaluation.perCategory }, null, 1));
    log(`[eval] AP ${evaluation.named.AP.toFixed(2)} AP50 ${evaluation.named.AP50.toFixed(2)} AP75 ${evaluation.named.AP75.toFixed(2)}; written ${join(outputDir, 'eval_results.json')}`);
    return { outputDir, evaluation };
  }

  // Training.
  if (train.init_checkpoint) loadInitCheckpoint(model, train.init_checkpoint, log);
  const optimizerCfg = requireNode(r, 'optimizer');
  optimizerCfg.params = { ...optimizerCfg.params, model };
  const optimizer = instantiate<AdamW>(optimizerCfg);
  const scheduler = instantiate<ParamScheduler>(requireNode(r, 'lr_multiplier'));
  const loader = instantiate<TrainLoader>(requireNode(r, 'dataloader.train'));
  const ema = train.model_ema?.enabled ? new ModelEMA(model, Number(train.model_ema.decay ?? 0.999)) : null;
  const metrics = new MetricsLog(join(outputDir, 'metrics.jsonl'));
  const checkpointHook = new CheckpointHook(checkpointer, Number(train.checkpointer?.period ?? 0), { get: () => ({ rng: getGlobalRng().getState() }) }, log);
  const evalHook = new EvalHook({
    loader: testLoader,
    period: Number(train.eval_period ?? 0),
    outputDir,
    metrics,
    pixelMean: r.dataloader?.pixel_mean ?? [123.675, 116.28, 103.53],
    pixelStd: r.dataloader?.pixel_std ?? [58.395, 57.12, 57.375],
    classNames: (testLoader.dataset as { categories?: { name: string }[] }).categories?.map((c) => c.name),
    numVisualize: Number(train.num_visualize ?? 4),
    log,
  });
  const trainer = new Trainer({
    model,
    optimizer,
    loader,
    scheduler,
    max_iter: Number(train.max_iter),
    clip_grad: train.clip_grad?.enabled ? { enabled: true, max_norm: Number(train.clip_grad.params?.max_norm ?? 0.1), norm_type: Number(train.clip_grad.params?.norm_type ?? 2) } : undefined,
    grad_accum_steps: Number(train.grad_accum_steps ?? 1),
    ema,
    memoryCheck,
    hooks: [new ProgressHook({ log_period: Number(train.log_period ?? 20) }), new MetricsHook(metrics, Number(train.log_period ?? 20)), checkpointHook, evalHook, new PlotHook(metrics, outputDir, Number(train.log_period ?? 20) * 5)],
  });

  if (opts.resume) {
    const name = checkpointer.latest();
    if (!name) {
      log(`[resume] no checkpoint in ${checkpointer.dir}: starting from scratch`);
    } else {
      const data = checkpointer.load(name);
      model.loadStateDict(data.model);
      if (data.optimizer) optimizer.loadStateTensors(data.optimizer, Number(data.state.optimizer_steps));
      if (ema && data.ema) ema.load(data.ema);
      loader.setState(data.state.loader);
      if (data.state.rng) getGlobalRng().setState(data.state.rng as RngState);
      trainer.iter = Number(data.state.iter);
      disposeCheckpoint(data);
      log(`[resume] continuing from ${name} at iteration ${trainer.iter} of ${trainer.maxIter}`);
    }
  }

  try {
    await trainer.train();
  } catch (e) {
    if (e instanceof NonFiniteLossError) {
      throw new Error(`${e.message}. ${checkpointHook.lastSaved ? `The last good checkpoint is ${checkpointHook.lastSaved}` : 'No checkpoint had been written yet'}.`);
    }
    throw e;
  }
  const evaluation = evalHook.lastResult ?? undefined;
  log('');
  log(`[done] results in ${outputDir}`);
  log(`  metrics      ${join(outputDir, 'metrics.jsonl')}`);
  log(`  plots        ${join(outputDir, 'loss.png')}, ${join(outputDir, 'ap.png')}`);
  log(`  predictions  ${join(outputDir, 'visualizations')}/`);
  log(`  weights      ${checkpointHook.lastSaved}`);
  if (evaluation) log(`  final        AP ${evaluation.named.AP.toFixed(2)}  AP50 ${evaluation.named.AP50.toFixed(2)}  AP75 ${evaluation.named.AP75.toFixed(2)}`);
  return { outputDir, evaluation, checkpoint: checkpointHook.lastSaved ?? undefined };
}

