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
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import {
  formatLoadReport,
  rawToTensor,
  readPth,
  readSafetensors,
  selectBackend,
  tensorToRaw,
  writeSafetensors,
  type LoadReport,
  type Module,
  type RawTensor,
} from '@detr/core';
import { instantiate, listParts, resolvePart } from '@detr/registry';
import { REPO_ROOT, findConfigFile, loadAndResolve, splitPositionals } from './cli_common';

/** @detr/engine's CheckpointConverter: what a registered `checkpoint_converter` factory returns. */
interface KeyConverter {
  matches(keys: string[]): boolean;
  convert(tensors: Map<string, tf.Tensor>): Map<string, tf.Tensor>;
  description: string;
}

export interface ConvertResult {
  report: LoadReport;
  /** Description of the key converter that claimed the checkpoint, if any. */
  converter: string | null;
  /** Entries written. */
  written: string[];
}

/** The tensors of a .pth (model state dict; other pickled objects kept opaque) or a safetensors file. */
function readCheckpoint(path: string): { raw: Map<string, RawTensor>; layout: 'native' | 'torch' } {
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  if (/\.(pth|pt)$/.test(path)) return { raw: readPth(path, { unknownGlobals: 'opaque' }).tensors, layout: 'torch' };
  if (path.endsWith('.safetensors')) {
    const file = readSafetensors(path);
    return { raw: file.tensors, layout: file.metadata.layout === 'native' ? 'native' : 'torch' };
  }
  throw new Error(`${basename(path)}: expected a .pth / .pt (torch.save) or .safetensors file (detectron2 .pkl files: convert them to .pth first)`);
}

/** Key renaming by the first registered converter that claims the checkpoint (as train.init_checkpoint). */
function applyKeyConverter(tensors: Map<string, tf.Tensor>): { tensors: Map<string, tf.Tensor>; converter: string | null } {
  for (const id of listParts('checkpoint_converter')) {
    const conv = (resolvePart(id, 'checkpoint_converter') as () => KeyConverter)();
    if (conv.matches([...tensors.keys()])) return { tensors: conv.convert(tensors), converter: conv.description };
  }
  return { tensors, converter: null };
}

/**
 * Loads `input` into `model` non-strictly (PyTorch layout for .pth) and writes `output` in our layout:
 * the entries that loaded, or with `all` the whole state dict. `strict` fails on any missing,
 * unexpected or mismatched entry before writing anything.
 */
export function convertCheckpoint(model: Module, input: string, output: string, opts: { strict?: boolean; all?: boolean; metadata?: Record<string, string> } = {}): ConvertResult {
  const { raw, layout } = readCheckpoint(input);
  const source = new Map([...raw].map(([k, r]) => [k, rawToTensor(r, `${basename(input)}: ${k}`)]));
  try {
    const { tensors, converter } = applyKeyConverter(source);
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
