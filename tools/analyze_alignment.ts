/**
 * The misalignment analysis of a trained detector (Align-DETR paper Fig. 1 and Fig. 4): on the config's
 * test loader, the recall of best-regressed samples among the top-N / top-2N confident outputs, the
 * IoU distributions of best-regressed and highest-confidence samples, and the Pearson coefficient of
 * confidence and IoU of the matched outputs, plus COCO AP on the same images. Writes alignment.json
 * and PNG figures (iou_histogram, br_recall, confidence_iou_density) and prints a summary.
 *   npx nx run align-detr:analyze -- train.init_checkpoint=output/aligndetr_small_mnist/checkpoints/model_final.safetensors
 *   npx tsx tools/analyze_alignment.ts --project dino --config-file dino_small_mnist --max-images 100 train.init_checkpoint=...
 * Definitions: packages/engine/src/analysis/best_regressed.ts and matched_samples.ts.
 */
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { findConfigFile, loadAndResolve, splitPositionals } from './cli_common';

async function main(): Promise<void> {
  const program = new Command()
    .name('analyze_alignment')
    .description("Measure the misalignment of a detector's confidence and localisation (BR recall, BR/HC IoU, Pearson r)")
    .option('--project <name>', 'project whose configs to use (align-detr, dino, dab-detr, h-detr, anchor-detr)')
    .option('--config-file <file>', "config file path, or a config name of the project; default: the project's small config")
    .option('--output-dir <dir>', 'where alignment.json and the PNGs go (default: <train.output_dir>/alignment)')
    .option('--max-images <n>', 'analyse only the first n test images', (v) => parseInt(v, 10))
    .addOption(new Option('--confidence <mode>', 'confidence that ranks outputs for BR recall / HC samples').choices(['max_class', 'gt_class']).default('max_class'))
    .addOption(new Option('--matched-confidence <mode>', 'confidence of matched outputs for Pearson r').choices(['max_class', 'gt_class']).default('gt_class'))
    .option('--no-eval', 'skip the COCO AP evaluation')
    .option('--no-scale-confidence', 'plot raw matched confidences (default: divided by their maximum, as the paper does)')
    .option('--backend <name>', 'force a tfjs backend: wasm, cpu, node, node-gpu')
    .option('--threads <n>', 'wasm threads (default: all cores)', (v) => parseInt(v, 10))
    .argument('[overrides...]', 'key=value config overrides; the weights are train.init_checkpoint=FILE (default: the last checkpoint of train.output_dir)')
    .allowExcessArguments(false)
    .showHelpAfterError();
  program.parse(process.argv);
  const opts = program.opts<{
    project?: string;
    configFile?: string;
    outputDir?: string;
    maxImages?: number;
    confidence: 'max_class' | 'gt_class';
    matchedConfidence: 'max_class' | 'gt_class';
    eval: boolean;
    scaleConfidence: boolean;
    backend?: string;
    threads?: number;
  }>();
  const { overrides, inputs } = splitPositionals(program.args);
  if (inputs.length) throw new Error(`unexpected arguments: ${inputs.join(' ')} (overrides are key=value, e.g. train.init_checkpoint=FILE)`);
  if (opts.maxImages !== undefined && !(Number.isInteger(opts.maxImages) && opts.maxImages >= 1)) {
    throw new Error(`--max-images must be a positive integer, got ${opts.maxImages}`);
  }
  const file = findConfigFile(opts.configFile, opts.project);
  const cfg = await loadAndResolve(file, overrides);
  console.log(`[config] ${file}${overrides.length ? ` with ${overrides.join(' ')}` : ''}`);
  const { runAlignmentAnalysis } = await import('@detr/engine');
  await runAlignmentAnalysis(cfg, {
    output_dir: opts.outputDir,
    max_images: opts.maxImages,
    confidence: opts.confidence,
    matched_confidence: opts.matchedConfidence,
    evaluate: opts.eval,
    scale_confidence: opts.scaleConfidence,
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
