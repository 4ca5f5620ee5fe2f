/**
 * Converts a PyTorch checkpoint (detrex / official Align-DETR / DINO model zoo .pth, or a torchvision /
 * detectron2-named ResNet) into our safetensors, in our native layout, for the model a config builds:
 *   npx tsx tools/convert_checkpoint.ts --project align-detr --config-file aligndetr_k2_r50_4scale_12ep \
 *       IN.pth OUT.safetensors [key=value overrides] [--strict] [--all]
 * The model is built from the config because only the model knows each tensor's layout (Linear weights
 * [out, in] -> [in, out], conv OIHW -> HWIO) and which keys it has. Keys are mapped as
 * `train.init_checkpoint` maps them (the registered `checkpoint_converter` parts, e.g. torchvision ResNet
 * names -> backbone.*), the load report (loaded / missing / unexpected / shape mismatches) is printed,
 * and the tensors that loaded are written (with --all: the whole state dict, the missing entries at
 * their initial values). The output loads with `train.init_checkpoint=OUT.safetensors`.
 */
import 'reflect-metadata';
import { basename, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { formatLoadReport, selectBackend, tensorToRaw, writeSafetensors, type LoadReport, type Module } from '@detr/core';
import { convertCheckpointKeys, readWeightsFile } from '@detr/engine';
import { instantiate } from '@detr/registry';
import { REPO_ROOT, findConfigFile, loadAndResolve, splitPositionals } from './cli_common';

export interface ConvertResult {
  report: LoadReport;
  /** Description of the key converter that claimed the checkpoint, if any. */
  converter: string | null;
  /** Entries written. */
  written: string[];
}

/**
 * Loads `input` into `model` non-strictly (PyTorch layout for .pth) and writes `output` in our layout:
 * the entries that loaded, or with `all` the whole state dict. `strict` fails on any missing,
 * unexpected or mismatched entry before writing anything.
 */
export function convertCheckpoint(model: Module, input: string, output: string, opts: { strict?: boolean; all?: boolean; metadata?: Record<string, string> } = {}): ConvertResult {
  const { tensors: source, layout } = readWeightsFile(input);
  try {
    const { tensors, converter } = convertCheckpointKeys(source);
    const report = model.loadStateDict(tensors, { strict: false, layout });
    const problems = report.missing.length + report.unexpected.length + report.shapeMismatch.length;
    if (opts.strict && problems > 0) throw new Error(`${basename(input)} does not match the model (--strict):\n${formatLoadReport(report)}`);
    const state = model.stateDict('native');
    const keep = opts.all ? [...state.keys()] : report.loaded;
    const out = new Map(keep.map((k) => [k, tensorToRaw(state.get(k)!)]));
    writeSafetensors(output, out, {
      format: 'detr-ts',
      layout: 'native',
      source: basename(input),
      ...(converter ? { converter } : {}),
      ...opts.metadata,
    });
    return { report, converter, written: keep };
  } finally {
    tf.dispose([...source.values()]);
  }
}

export async function main(argv: string[], log: (line: string) => void = (l) => console.log(l)): Promise<ConvertResult> {
  const program = new Command()
    .name('convert_checkpoint')
    .description("Convert a PyTorch checkpoint into detr-ts safetensors for the model a project's config builds")
    .option('--project <name>', 'project whose configs to use (align-detr, dino, dab-detr, h-detr, anchor-detr)')
    .option('--config-file <file>', "config file path or config name; default: the project's default config")
    .option('--strict', 'fail unless every model entry is in the checkpoint and every checkpoint entry is used')
    .option('--all', 'write the whole state dict (entries the checkpoint lacks at their initial values)')
    .argument('<args...>', 'IN.pth OUT.safetensors, and key=value config overrides')
    .exitOverride()
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<{ project?: string; configFile?: string; strict?: boolean; all?: boolean }>();
  const { overrides, inputs } = splitPositionals(program.args);
  if (inputs.length !== 2) throw new Error(`expected IN and OUT files, got ${inputs.length ? inputs.join(' ') : 'none'}`);
  const [input, output] = inputs;
  if (!output.endsWith('.safetensors')) throw new Error(`the output must be a .safetensors file, got ${output}`);
  const file = findConfigFile(opts.configFile, opts.project);
  const cfg = await loadAndResolve(file, overrides);
  log(`[config] ${relative(REPO_ROOT, file)}${overrides.length ? ` with ${overrides.join(' ')}` : ''}`);
  await selectBackend({ backend: 'cpu', log: () => {} });
  const model = instantiate<Module>((cfg.resolved as Record<string, unknown>).model);
  try {
    const result = convertCheckpoint(model, input, output, {
      strict: opts.strict,
      all: opts.all,
      metadata: { config: relative(REPO_ROOT, file), overrides: JSON.stringify(overrides) },
    });
    if (result.converter) log(`[convert] ${basename(input)}: ${result.converter}`);
    log(`[convert] ${formatLoadReport(result.report)}`);
    log(`[convert] wrote ${result.written.length} tensors to ${output} (native layout); load it with train.init_checkpoint=${output}`);
    return result;
  } finally {
    model.dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: Error & { code?: string }) => {
      if (e.code?.startsWith('commander.')) process.exit(e.code === 'commander.helpDisplayed' ? 0 : 1);
      console.error(`error: ${e.message}`);
      process.exit(1);
    },
  );
}
