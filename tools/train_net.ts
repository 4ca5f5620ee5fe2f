/**
 * The one entry point of every project's nx targets (detrex `tools/train_net.py`):
 *   train (default), --eval-only, --infer IMAGES..., --print-config
 * with `--config-file` (a path or a config name of the project), `--resume`, `--output-dir`,
 * `--backend`, `--threads`, and trailing `key=value` overrides of the config.
 *   npx nx run align-detr:train                      # the project's default config on the embedded dataset
 *   npx nx run align-detr:train -- --print-config
 *   npx nx run align-detr:train -- --config-file aligndetr_k2_r50_4scale_12ep train.max_iter=1000
 */
import 'reflect-metadata';
import { Command } from 'commander';
import { formatConfig } from '@detr/registry';
import { findConfigFile, loadAndResolve, splitPositionals } from './cli_common';

async function main(): Promise<void> {
  const program = new Command()
    .name('train_net')
    .description('Train, evaluate or run a DETR-family detector from a lazy config')
    .option('--project <name>', 'project whose configs to use (align-detr, dino, dab-detr, h-detr, anchor-detr)')
    .option('--config-file <file>', "config file path, or a config name of the project; default: the project's small config on the embedded dataset")
    .option('--eval-only', 'evaluate train.init_checkpoint (or the last checkpoint of the output folder) on the test set')
    .option('--infer', 'run the model on the image files given as arguments; writes images with boxes and a JSON of detections')
    .option('--resume', 'continue from the last checkpoint in the output folder (exactly the same run)')
    .option('--output-dir <dir>', 'output folder (overrides train.output_dir)')
    .option('--backend <name>', 'force a tfjs backend: wasm, cpu, node, node-gpu')
    .option('--threads <n>', 'wasm threads (default: all cores)', (v) => parseInt(v, 10))
    .option('--print-config', 'print the resolved config and exit')
    .argument('[args...]', 'key=value config overrides, and image files for --infer')
    .allowExcessArguments(false)
    .showHelpAfterError();
  program.parse(process.argv);
  const opts = program.opts<{
    project?: string;
    configFile?: string;
    evalOnly?: boolean;
    infer?: boolean;
    resume?: boolean;
    outputDir?: string;
    backend?: string;
    threads?: number;
    printConfig?: boolean;
  }>();
  const { overrides, inputs } = splitPositionals(program.args);
  if (opts.outputDir) overrides.push(`train.output_dir=${opts.outputDir}`);
  if (inputs.length && !opts.infer) {
    throw new Error(`unexpected arguments: ${inputs.join(' ')} (overrides are key=value; image files need --infer)`);
  }
  const file = findConfigFile(opts.configFile, opts.project);
  const cfg = await loadAndResolve(file, overrides);
  console.log(`[config] ${file}${overrides.length ? ` with ${overrides.join(' ')}` : ''}`);
  if (opts.printConfig) {
    process.stdout.write(formatConfig(cfg.resolved));
    return;
  }
  const { launch } = await import('@detr/engine');
  await launch(cfg, {
    mode: opts.infer ? 'infer' : opts.evalOnly ? 'eval' : 'train',
    resume: !!opts.resume,
    inputs,
    backend: opts.backend,
    threads: opts.threads,
  });
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`error: ${e.message}`);
    if (process.env.DETR_DEBUG) console.error(e.stack);
    process.exit(1);
  },
);
