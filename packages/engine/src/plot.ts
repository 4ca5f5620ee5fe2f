/**
 * Small PNG charts drawn with @napi-rs/canvas (no browser): line plots (loss and AP curves),
 * histograms and density heat maps (the alignment analysis), and detections drawn on images.
 */
import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

interface Frame {
  ctx: SKRSContext2D;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

function frame(width: number, height: number, title: string, xlabel: string, ylabel: string, x: [number, number], y: [number, number], logY = false) {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  const left = 70, top = 40, right = 20, bottom = 50;
  const plotW = width - left - right, plotH = height - top - bottom;
  ctx.strokeStyle = '#333';
  ctx.lineWidth = 1;
  ctx.strokeRect(left, top, plotW, plotH);
  ctx.fillStyle = '#111';
  ctx.font = 'bold 15px sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(title, left + plotW / 2, 24);
  ctx.font = '12px sans-serif';
  ctx.fillText(xlabel, left + plotW / 2, height - 10);
  ctx.save();
  ctx.translate(16, top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(ylabel, 0, 0);
  ctx.restore();
  const tx = (v: number) => left + ((v - x[0]) / (x[1] - x[0] || 1)) * plotW;
  const ty = (v: number) => {
    const f = logY ? (Math.log10(v) - Math.log10(y[0])) / (Math.log10(y[1]) - Math.log10(y[0]) || 1) : (v - y[0]) / (y[1] - y[0] || 1);
    return top + plotH - f * plotH;
  };
  ctx.font = '11px sans-serif';
  ctx.strokeStyle = '#e5e5e5';
  for (const v of niceTicks(x[0], x[1])) {
    ctx.beginPath();
    ctx.moveTo(tx(v), top);
    ctx.lineTo(tx(v), top + plotH);
    ctx.stroke();
    ctx.fillText(fmt(v), tx(v), top + plotH + 16);
  }
  ctx.textAlign = 'right';
  const yTicks = logY
    ? niceTicks(Math.log10(y[0]), Math.log10(y[1])).map((e) => Math.pow(10, e))
    : niceTicks(y[0], y[1]);
  for (const v of yTicks) {
    ctx.beginPath();
    ctx.moveTo(left, ty(v));
    ctx.lineTo(left + plotW, ty(v));
    ctx.stroke();
    ctx.fillText(fmt(v), left - 6, ty(v) + 4);
  }
  return { canvas, f: { ctx, left, top, plotW, plotH } as Frame, tx, ty };
}

function legend(f: Frame, series: { name: string; color: string }[]): void {
  const { ctx } = f;
  ctx.font = '12px sans-serif';
  ctx.textAlign = 'left';
  series.forEach((s, i) => {
    const yy = f.top + 14 + i * 16;
    ctx.fillStyle = s.color;
    ctx.fillRect(f.left + f.plotW - 150, yy - 8, 12, 10);
    ctx.fillStyle = '#111';
    ctx.fillText(s.name, f.left + f.plotW - 133, yy + 1);
  });
}

/** A line chart as PNG bytes. */
export function linePlot(opts: { series: Series[]; title: string; xlabel: string; ylabel: string; width?: number; height?: number; logY?: boolean }): Buffer {
  const pts = opts.series.flatMap((s) => s.points).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (!opts.logY || b > 0));
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x: [number, number] = pts.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let y: [number, number] = pts.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (y[0] === y[1]) y = [y[0] - 1, y[1] + 1];
  if (!opts.logY) y = [y[0] - 0.05 * (y[1] - y[0]), y[1] + 0.05 * (y[1] - y[0])];
  const { canvas, f, tx, ty } = frame(opts.width ?? 720, opts.height ?? 420, opts.title, opts.xlabel, opts.ylabel, x, y, opts.logY);
  const colored = opts.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length] }));
  for (const s of colored) {
    const p = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (!opts.logY || b > 0));
    f.ctx.strokeStyle = s.color;
    f.ctx.lineWidth = 2;
    f.ctx.beginPath();
    p.forEach(([a, b], i) => (i ? f.ctx.lineTo(tx(a), ty(b)) : f.ctx.moveTo(tx(a), ty(b))));
    f.ctx.stroke();
    if (p.length <= 30) {
      f.ctx.fillStyle = s.color;
      for (const [a, b] of p) f.ctx.fillRect(tx(a) - 2, ty(b) - 2, 4, 4);
    }
  }
  legend(f, colored);
  return canvas.toBuffer('image/png');
}

/** Overlaid histograms (shared bins over [lo, hi]) as PNG bytes. */
export function histogramPlot(opts: {
  series: { name: string; values: ArrayLike<number>; color?: string }[];
  bins?: number;
  range?: [number, number];
  title: string;
  xlabel: string;
  normalize?: boolean;
}): Buffer {
  const bins = opts.bins ?? 20;
  const all = opts.series.flatMap((s) => Array.from(s.values));
  const [lo, hi] = opts.range ?? [Math.min(...all, 0), Math.max(...all, 1)];
  const counts = opts.series.map((s) => {
    const c = new Array(bins).fill(0);
    for (const v of Array.from(s.values)) {
      if (!(v >= lo && v <= hi)) continue;
      c[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))] += 1;
    }
    const total = s.values.length || 1;
    return opts.normalize === false ? c : c.map((n) => n / total);
  });
  const ymax = Math.max(1e-9, ...counts.flat());
  const { canvas, f, tx, ty } = frame(720, 420, opts.title, opts.xlabel, opts.normalize === false ? 'count' : 'fraction', [lo, hi], [0, ymax * 1.08]);
  const colored = opts.series.map((s, i) => ({ name: s.name, color: s.color ?? PALETTE[i % PALETTE.length] }));
  const bw = (hi - lo) / bins;
  counts.forEach((c, si) => {
    f.ctx.fillStyle = colored[si].color + '88';
    f.ctx.strokeStyle = colored[si].color;
    c.forEach((n, b) => {
      const x0 = tx(lo + b * bw), x1 = tx(lo + (b + 1) * bw);
      f.ctx.fillRect(x0, ty(n), x1 - x0, ty(0) - ty(n));
      f.ctx.strokeRect(x0, ty(n), x1 - x0, ty(0) - ty(n));
    });
  });
  legend(f, colored);
  return canvas.toBuffer('image/png');
}

/** A 2-d density heat map of (x, y) pairs over [0,1]^2 (or given ranges) as PNG bytes. */
export function densityPlot(opts: { x: ArrayLike<number>; y: ArrayLike<number>; bins?: number; title: string; xlabel: string; ylabel: string; xRange?: [number, number]; yRange?: [number, number] }): Buffer {
  const bins = opts.bins ?? 40;
  const xr = opts.xRange ?? [0, 1], yr = opts.yRange ?? [0, 1];
  const grid = Array.from({ length: bins }, () => new Array(bins).fill(0));
  for (let i = 0; i < opts.x.length; i++) {
    const a = opts.x[i], b = opts.y[i];
    if (!(a >= xr[0] && a <= xr[1] && b >= yr[0] && b <= yr[1])) continue;
    const gx = Math.min(bins - 1, Math.floor(((a - xr[0]) / (xr[1] - xr[0])) * bins));
    const gy = Math.min(bins - 1, Math.floor(((b - yr[0]) / (yr[1] - yr[0])) * bins));
    grid[gy][gx] += 1;
  }
  const max = Math.max(1, ...grid.flat());
  const { canvas, f, tx, ty } = frame(560, 520, opts.title, opts.xlabel, opts.ylabel, xr, yr);
  for (let gy = 0; gy < bins; gy++) {
    for (let gx = 0; gx < bins; gx++) {
      const v = grid[gy][gx];
      if (!v) continue;
      const t = Math.log1p(v) / Math.log1p(max); // log colour scale
      f.ctx.fillStyle = `rgb(${Math.round(255 * Math.min(1, 2 * t))},${Math.round(255 * Math.max(0, 2 * t - 1))},${Math.round(120 * (1 - t))})`;
      const x0 = tx(xr[0] + (gx / bins) * (xr[1] - xr[0])), x1 = tx(xr[0] + ((gx + 1) / bins) * (xr[1] - xr[0]));
      const y0 = ty(yr[0] + ((gy + 1) / bins) * (yr[1] - yr[0])), y1 = ty(yr[0] + (gy / bins) * (yr[1] - yr[0]));
      f.ctx.fillRect(x0, y0, x1 - x0 + 0.5, y1 - y0 + 0.5);
    }
  }
  return canvas.toBuffer('image/png');
}

export interface DrawBox {
  box: ArrayLike<number>; // xyxy pixels
  label: string;
  color: string;
  dashed?: boolean;
}

/** An RGB (HWC uint8) image with boxes drawn, as PNG bytes; `scale` enlarges small images. */
export function drawBoxes(image: { data: Uint8Array; height: number; width: number }, boxes: DrawBox[], scale = 1): Buffer {
  const { width, height } = image;
  const canvas = createCanvas(Math.round(width * scale), Math.round(height * scale));
  const ctx = canvas.getContext('2d');
  const src = createCanvas(width, height);
  const sctx = src.getContext('2d');
  const img = sctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    img.data[i * 4] = image.data[i * 3];
    img.data[i * 4 + 1] = image.data[i * 3 + 1];
    img.data[i * 4 + 2] = image.data[i * 3 + 2];
    img.data[i * 4 + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, width * scale, height * scale);
  ctx.lineWidth = 2;
  ctx.font = `${Math.max(10, Math.round(11 * Math.min(scale, 2)))}px sans-serif`;
  for (const b of boxes) {
    const [x1, y1, x2, y2] = Array.from(b.box).map((v) => v * scale);
    ctx.strokeStyle = b.color;
    ctx.setLineDash(b.dashed ? [5, 3] : []);
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    if (b.label) {
      const w = ctx.measureText(b.label).width + 4;
      ctx.setLineDash([]);
      ctx.fillStyle = b.color;
      ctx.fillRect(x1, Math.max(0, y1 - 14), w, 14);
      ctx.fillStyle = '#fff';
      ctx.fillText(b.label, x1 + 2, Math.max(11, y1 - 3));
    }
  }
  return canvas.toBuffer('image/png');
}
