/**
 * The figures of the misalignment analysis as PNG files, drawn with the engine's plot helpers:
 *  - iou_histogram.png: IoU distributions of BR and HC samples (paper Fig. 1b);
 *  - br_recall.png: recall of BR samples among the top m*N confident outputs (Fig. 1a, as a curve over m);
 *  - confidence_iou_density.png: density of (IoU, confidence) of matched outputs with the Pearson
 *    coefficient (Fig. 4). As in the paper ("the confidence of our approach is scaled to set the
 *    maximum to 1"), confidences are divided by their maximum when `scale_confidence` is on; the title
 *    says so. Pearson's r does not change under that scaling.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { densityPlot, histogramPlot, linePlot } from '../plot';
import type { AlignmentReport, AlignmentSamples } from './alignment_accumulator';

export interface AlignmentPlotOptions {
  /** Shown in every title (e.g. the config or run name). */
  label?: string;
  /** Divide matched confidences by their maximum in the density plot. Default true. */
  scale_confidence?: boolean;
}

const fmt = (v: number | null, digits = 3) => (v === null ? 'n/a' : v.toFixed(digits));

/** Writes the three PNGs into `dir`; returns their paths. */
export function writeAlignmentPlots(dir: string, report: AlignmentReport, samples: AlignmentSamples, opts: AlignmentPlotOptions = {}): string[] {
  const label = opts.label ? `${opts.label}: ` : '';
  const files: string[] = [];
  const write = (name: string, png: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, png);
    files.push(path);
  };

  write(
    'iou_histogram.png',
    histogramPlot({
      series: [
        { name: `BR (mean ${fmt(report.br_iou.mean)})`, values: samples.brIou, color: '#2ca02c' },
        { name: `HC (mean ${fmt(report.hc_iou.mean)})`, values: samples.hcIou, color: '#d62728' },
      ],
      bins: 20,
      range: [0, 1],
      title: `${label}IoU with GT of best-regressed vs highest-confidence samples (${report.confidence})`,
      xlabel: 'IoU with ground truth',
    }),
  );

  write(
    'br_recall.png',
    linePlot({
      series: [{ name: 'recall of BR samples', points: report.recall.curve.filter((p) => p.recall !== null).map((p) => [p.multiple, p.recall as number]) }],
      title: `${label}BR recall among top-k confident outputs (top-N ${fmt(report.recall.top_n)}, top-2N ${fmt(report.recall.top_2n)})`,
      xlabel: 'k / N (N = number of GT boxes in the image)',
      ylabel: 'recall of best-regressed samples',
    }),
  );

  const maxConf = report.matched.max_confidence;
  const scale = (opts.scale_confidence ?? true) && maxConf !== null && maxConf > 0 ? 1 / maxConf : 1;
  write(
    'confidence_iou_density.png',
    densityPlot({
      x: samples.matchedIou,
      y: samples.matchedConfidence.map((c) => c * scale),
      title: `${label}matched outputs: Pearson r = ${fmt(report.matched.pearson)} (n = ${report.matched.count})`,
      xlabel: 'IoU with the matched GT',
      ylabel: scale !== 1 ? `confidence / ${fmt(maxConf)} (${report.matched_confidence})` : `confidence (${report.matched_confidence})`,
    }),
  );
  return files;
}
