/** PNG plots of a run's metrics.jsonl: loss curves and AP curves, written next to it. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linePlot } from '../plot';
import type { Hook, Trainer } from '../trainer';
import type { MetricsLog } from './metrics';

export function writeTrainingPlots(metrics: MetricsLog, outputDir: string): string[] {
  const records = metrics.read();
  const train = records.filter((r) => r.type === 'train');
  const evals = records.filter((r) => r.type === 'eval' && r.bbox);
  const written: string[] = [];
  if (train.length) {
    const keys = ['total_loss', 'loss_class', 'loss_bbox', 'loss_giou'].filter((k) => train.some((r) => typeof r[k] === 'number'));
    const png = linePlot({
      title: 'training losses (weighted, last decoder layer; total = all terms)',
      xlabel: 'iteration',
      ylabel: 'loss',
      logY: true,
      series: keys.map((k) => ({ name: k, points: train.map((r) => [r.iter, r[k] as number] as [number, number]) })),
    });
    writeFileSync(join(outputDir, 'loss.png'), png);
    written.push(join(outputDir, 'loss.png'));
  }
  if (evals.length) {
    const png = linePlot({
      title: 'COCO bbox AP on the validation set',
      xlabel: 'iteration',
      ylabel: 'AP (%)',
      series: (['AP', 'AP50', 'AP75'] as const).map((k) => ({
        name: k,
        points: evals.map((r) => [r.iter, (r.bbox as Record<string, number>)[k]] as [number, number]),
      })),
    });
    writeFileSync(join(outputDir, 'ap.png'), png);
    written.push(join(outputDir, 'ap.png'));
  }
  return written;
}

/** Redraws the loss plot every `period` iterations (evaluations redraw both). */
export class PlotHook implements Hook {
  constructor(private readonly metrics: MetricsLog, private readonly outputDir: string, private readonly period = 100) {}

  afterStep(t: Trainer): void {
    if (t.iter % this.period === 0) writeTrainingPlots(this.metrics, this.outputDir);
  }

  afterTrain(): void {
    writeTrainingPlots(this.metrics, this.outputDir);
  }
}
