/**
 * Grouped bar chart with error bars (mean +- std over seeds per row), as PNG bytes: the reproduction
 * summary (AP, AP75, Pearson, BR recall per ablation row). Drawn with @napi-rs/canvas like plot.ts.
 */
import { createCanvas } from '@napi-rs/canvas';

export interface BarGroup {
  /** Category label under the group (e.g. the row name). */
  label: string;
  /** One value per series; null draws nothing. */
  values: (number | null)[];
  /** Error bar half-heights per series (std); null or 0 draws none. */
  errors?: (number | null)[];
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function barPlot(opts: { groups: BarGroup[]; series: string[]; title: string; ylabel: string; width?: number; height?: number }): Buffer {
  const width = opts.width ?? Math.max(560, 110 + opts.groups.length * (30 + 22 * opts.series.length));
  const height = opts.height ?? 440;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const left = 70, top = 64, right = 20, bottom = 110;
  const plotW = width - left - right, plotH = height - top - bottom;

  const tops: number[] = [0];
  const bottoms: number[] = [0];
  for (const g of opts.groups) {
    g.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      const e = g.errors?.[i] ?? 0;
      tops.push(v + (e ?? 0));
      bottoms.push(v - (e ?? 0));
    });
  }
  let lo = Math.min(...bottoms), hi = Math.max(...tops);
  if (hi === lo) hi = lo + 1;
  const pad = 0.06 * (hi - lo);
  hi += pad;
  if (lo < 0) lo -= pad;
  const ty = (v: number) => top + plotH - ((v - lo) / (hi - lo)) * plotH;

  ctx.strokeStyle = '#333';
  ctx.strokeRect(left, top, plotW, plotH);
  ctx.fillStyle = '#111';
  ctx.textAlign = 'center';
  // The title shrinks to fit the width.
  let titleSize = 15;
  ctx.font = `bold ${titleSize}px sans-serif`;
  while (titleSize > 8 && ctx.measureText(opts.title).width > width - 20) ctx.font = `bold ${--titleSize}px sans-serif`;
  ctx.fillText(opts.title, width / 2, 24);
  ctx.font = '12px sans-serif';
  ctx.save();
  ctx.translate(16, top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(opts.ylabel, 0, 0);
  ctx.restore();

  // y grid
  ctx.font = '11px sans-serif';
  ctx.textAlign = 'right';
  const raw = (hi - lo) / 5;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
    ctx.strokeStyle = '#e5e5e5';
    ctx.beginPath();
    ctx.moveTo(left, ty(v));
    ctx.lineTo(left + plotW, ty(v));
    ctx.stroke();
    ctx.fillStyle = '#111';
    ctx.fillText(String(Number(v.toPrecision(6))), left - 6, ty(v) + 4);
  }
  ctx.strokeStyle = '#333';
  ctx.beginPath();
  ctx.moveTo(left, ty(0));
  ctx.lineTo(left + plotW, ty(0));
  ctx.stroke();

  const groupW = plotW / Math.max(1, opts.groups.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, opts.series.length));
  opts.groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * opts.series.length) / 2;
    g.values.forEach((v, si) => {
      if (v === null || !Number.isFinite(v)) return;
      const x = x0 + si * barW;
      ctx.fillStyle = PALETTE[si % PALETTE.length];
      const y1 = ty(Math.max(v, 0)), y2 = ty(Math.min(v, 0));
      ctx.fillRect(x + 1, y1, barW - 2, Math.max(1, y2 - y1));
      const e = g.errors?.[si];
      if (e) {
        ctx.strokeStyle = '#111';
        ctx.beginPath();
        ctx.moveTo(x + barW / 2, ty(v - e));
        ctx.lineTo(x + barW / 2, ty(v + e));
        ctx.moveTo(x + barW / 2 - 4, ty(v - e));
        ctx.lineTo(x + barW / 2 + 4, ty(v - e));
        ctx.moveTo(x + barW / 2 - 4, ty(v + e));
        ctx.lineTo(x + barW / 2 + 4, ty(v + e));
        ctx.stroke();
      }
    });
    // rotated group label
    ctx.save();
    ctx.fillStyle = '#111';
    ctx.font = '11px sans-serif';
    ctx.textAlign = 'right';
    ctx.translate(left + gi * groupW + groupW / 2, top + plotH + 12);
    ctx.rotate(-Math.PI / 6);
    ctx.fillText(g.label, 0, 0);
    ctx.restore();
  });

  // legend: one row between the title and the plot
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'left';
  let x = left;
  opts.series.forEach((name, i) => {
    const yy = top - 14;
    ctx.fillStyle = PALETTE[i % PALETTE.length];
    ctx.fillRect(x, yy - 9, 12, 10);
    ctx.fillStyle = '#111';
    ctx.fillText(name, x + 17, yy);
    x += 17 + ctx.measureText(name).width + 18;
  });
  return canvas.toBuffer('image/png');
}
