/**
 * The report of a reproduction: per row, the mean ± sample std over seeds of AP / AP50 / AP75 and the
 * misalignment metrics (n = seeds that finished), the per-run values under it, the runs that are
 * missing or failed, and bar charts of the same numbers (results.md, results.json, summary_*.png).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@detr/core';
import { linePlot } from '../plot';
import { barPlot } from './bar_plot';
import type { RunMetrics, RunRecord } from './reproduce_runs';
import { formatMeanStd, meanStd, type MetricStats } from './seed_statistics';

export interface ReportRow {
  name: string;
  label: string;
  /** The paper's COCO numbers for the row, shown beside ours for direction only (different data set and scale). */
  paper?: { AP?: number; AP50?: number; AP75?: number };
}

type MetricKey = 'AP' | 'AP50' | 'AP75' | 'recall_top_n' | 'recall_top_2n' | 'pearson' | 'br_iou_mean' | 'hc_iou_mean';

export const REPORT_METRICS: { key: MetricKey; label: string; digits: number }[] = [
  { key: 'AP', label: 'AP', digits: 1 },
  { key: 'AP50', label: 'AP50', digits: 1 },
  { key: 'AP75', label: 'AP75', digits: 1 },
  { key: 'recall_top_n', label: 'BR recall@N', digits: 3 },
  { key: 'recall_top_2n', label: 'BR recall@2N', digits: 3 },
  { key: 'pearson', label: 'Pearson r', digits: 3 },
  { key: 'br_iou_mean', label: 'BR IoU', digits: 3 },
  { key: 'hc_iou_mean', label: 'HC IoU', digits: 3 },
];

export interface RowSummary {
  row: ReportRow;
  /** Finished runs of the row. */
  runs: RunRecord[];
  stats: Record<MetricKey, MetricStats>;
}

export function summarizeRows(rows: readonly ReportRow[], records: readonly RunRecord[]): RowSummary[] {
  return rows.map((row) => {
    const runs = records.filter((r) => r.spec.row === row.name && r.status === 'done' && r.metrics).sort((a, b) => a.spec.seed - b.spec.seed);
    const stats = Object.fromEntries(REPORT_METRICS.map((m) => [m.key, meanStd(runs.map((r) => (r.metrics as RunMetrics)[m.key]))])) as Record<MetricKey, MetricStats>;
    return { row, runs, stats };
  });
}

export interface ReportContext {
  title: string;
  /** Short name for the plot titles (e.g. the set name); default the title. */
  shortTitle?: string;
  /** The command that produced the report (shown so a reader can rerun it). */
  command: string;
  /** Planned seeds per row (to list what is missing). */
  seeds: number[];
  /** Runs that failed or did not finish, as `row seed s: reason`. */
  problems: string[];
  notes?: string[];
}

const paperCell = (p: ReportRow['paper']) => (p?.AP === undefined ? '' : [p.AP, p.AP50, p.AP75].filter((v) => v !== undefined).map((v) => (v as number).toFixed(1)).join(' / '));
const cell = (v: number | null | undefined, d: number) => (v === null || v === undefined ? '–' : v.toFixed(d));

export function resultsMarkdown(summaries: readonly RowSummary[], ctx: ReportContext): string {
  const lines: string[] = [`# ${ctx.title}`, ''];
  lines.push(`Produced by \`${ctx.command}\` (${new Date().toISOString().slice(0, 10)}).`);
  lines.push('Each cell is the mean ± sample standard deviation over the n seeds that finished (one value when n = 1).');
  lines.push('AP in percent (COCO box AP of the analysed images); BR recall@N / @2N: fraction of GT boxes whose best-regressed output is among the N / 2N most confident outputs of its image;');
  lines.push('Pearson r: correlation of confidence and IoU over the matched outputs of the final layer; BR / HC IoU: mean IoU of best-regressed / highest-confidence samples.');
  for (const n of ctx.notes ?? []) lines.push(n);
  lines.push('');
  lines.push(`| Row | n | ${REPORT_METRICS.map((m) => m.label).join(' | ')} | paper COCO AP / AP50 / AP75 |`);
  lines.push(`|---|---|${REPORT_METRICS.map(() => '---').join('|')}|---|`);
  for (const s of summaries) {
    lines.push(`| ${s.row.label} (\`${s.row.name}\`) | ${s.runs.length} | ${REPORT_METRICS.map((m) => formatMeanStd(s.stats[m.key], m.digits)).join(' | ')} | ${paperCell(s.row.paper)} |`);
  }
  lines.push('', '## Per-run values', '');
  lines.push(`| Row | seed | ${REPORT_METRICS.map((m) => m.label).join(' | ')} | images | GT |`);
  lines.push(`|---|---|${REPORT_METRICS.map(() => '---').join('|')}|---|---|`);
  for (const s of summaries) {
    for (const r of s.runs) {
      const m = r.metrics as RunMetrics;
      lines.push(`| \`${s.row.name}\` | ${r.spec.seed} | ${REPORT_METRICS.map((k) => cell(m[k.key], k.digits)).join(' | ')} | ${m.num_images} | ${m.num_gt} |`);
    }
  }
  const missing: string[] = [];
  for (const s of summaries) {
    const have = new Set(s.runs.map((r) => r.spec.seed));
    for (const seed of ctx.seeds) if (!have.has(seed)) missing.push(`${s.row.name} seed ${seed}`);
  }
  if (missing.length || ctx.problems.length) {
    lines.push('', '## Not finished', '');
    for (const p of ctx.problems) lines.push(`- ${p}`);
    for (const m of missing) if (!ctx.problems.some((p) => p.startsWith(m))) lines.push(`- ${m}: not run yet`);
  }
  lines.push('');
  return lines.join('\n');
}

/** results.md, results.json and the summary PNGs in `dir`; returns the paths. */
export function writeReproduceReport(dir: string, rows: readonly ReportRow[], records: readonly RunRecord[], ctx: ReportContext): string[] {
  const summaries = summarizeRows(rows, records);
  const files: string[] = [];
  const md = join(dir, 'results.md');
  writeFileAtomic(md, resultsMarkdown(summaries, ctx));
  files.push(md);
  const json = join(dir, 'results.json');
  writeFileAtomic(
    json,
    JSON.stringify({ title: ctx.title, command: ctx.command, seeds: ctx.seeds, problems: ctx.problems, rows: summaries.map((s) => ({ ...s.row, n: s.runs.length, stats: s.stats, runs: s.runs })) }, null, 1),
  );
  files.push(json);

  const done = summaries.filter((s) => s.runs.length > 0);
  if (done.length === 0) return files;
  const group = (keys: MetricKey[]) =>
    done.map((s) => ({ label: s.row.name, values: keys.map((k) => s.stats[k].mean), errors: keys.map((k) => s.stats[k].std) }));
  const png = (name: string, buf: Buffer) => {
    writeFileSync(join(dir, name), buf);
    files.push(join(dir, name));
  };
  const name = ctx.shortTitle ?? ctx.title;
  png('summary_ap.png', barPlot({ groups: group(['AP', 'AP50', 'AP75']), series: ['AP', 'AP50', 'AP75'], title: `${name}: box AP (mean ± std over seeds)`, ylabel: 'AP (%)' }));
  png(
    'summary_alignment.png',
    barPlot({
      groups: group(['recall_top_n', 'recall_top_2n', 'pearson']),
      series: ['BR recall@N', 'BR recall@2N', 'Pearson r'],
      title: `${name}: misalignment metrics (mean ± std over seeds)`,
      ylabel: 'recall / correlation',
    }),
  );
  png(
    'recall_curves.png',
    linePlot({
      series: done.map((s) => {
        const multiples = (s.runs[0].metrics as RunMetrics).recall_curve.map((p) => p.multiple);
        return {
          name: s.row.name,
          points: multiples.map((m) => [m, meanStd(s.runs.map((r) => (r.metrics as RunMetrics).recall_curve.find((p) => p.multiple === m)?.recall ?? null)).mean ?? NaN] as [number, number]),
        };
      }),
      title: `${name}: BR recall among the top-k confident outputs (mean over seeds)`,
      xlabel: 'k / N',
      ylabel: 'BR recall',
    }),
  );
  return files;
}
