/**
 * One image of the embedded detection dataset: real MNIST digits on a noisy canvas.
 *
 *   - canvas 96..160 px per side, dark or light background (random polarity) with a colour tint, a
 *     linear brightness gradient and near-Gaussian sensor noise (std 2..10 levels);
 *   - 2..6 digits, heights log-uniform in 12..64 px (capped by the canvas), width from the digit's own
 *     aspect ratio times 0.8..1.25, colour of strong contrast with the background, alpha-blended with
 *     their grey levels as coverage; a digit may overlap earlier ones a little (box IoU <= 0.2 and at
 *     most 35% of the smaller box covered), later digits drawn on top;
 *   - clutter that is not an object: 0..3 thin anti-aliased lines (under the digits) and 0..4 stroke
 *     fragments, 25..50% of the ink of curved digits (0 2 3 5 6 8 9) cut off along a random straight
 *     line, placed clear of every digit box;
 *   - the ground-truth box of a digit is the extent of its own scaled ink with coverage >= 0.3, in
 *     whole pixels, so it is tight to what is visible (what makes AP75 demanding on 12-30 px digits).
 *
 * Everything random comes from the `Rng` passed in (one per image), so an image depends only on the
 * seed and its index.
 */
import type { Rng } from '@detr/core';
import { resizePixels } from '../image/resize';
import type { RgbImage } from '../sample';
import type { DigitGlyph, DigitPools } from './mnist-digits';

export const SCENE_PARAMS = {
  canvasSize: [96, 160],
  digitsPerImage: [2, 6],
  digitHeight: [12, 64],
  aspectJitter: [0.8, 1.25],
  maxBoxIou: 0.2,
  maxCoveredFraction: 0.35,
  inkThreshold: 0.3,
  lines: [0, 3],
  fragments: [0, 4],
  fragmentHeight: [8, 24],
  fragmentInk: [0.25, 0.5],
  fragmentDigits: [0, 2, 3, 5, 6, 8, 9],
  lightBackgroundProb: 0.35,
  noiseSigma: [2, 10],
  placementTries: 30,
} as const;

export interface SceneObject {
  label: number;
  /** [x0, y0, x1, y1] whole pixels, x1 / y1 exclusive */
  box: [number, number, number, number];
}

export interface Scene {
  image: RgbImage;
  objects: SceneObject[];
}

export interface SceneOptions {
  /** drop background gradient, noise and clutter (for tests that check boxes against the pixels) */
  clean?: boolean;
}

type Box = [number, number, number, number];

function area(b: Box): number {
  return Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
}

function intersection(a: Box, b: Box): number {
  return Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
}

class Canvas {
  readonly data: Float32Array; // [h, w, 3] 0..255

  constructor(readonly width: number, readonly height: number) {
    this.data = new Float32Array(width * height * 3);
  }

  /** Blend `color` over the canvas with per-pixel coverage `alpha` ([h, w] at (x0, y0)) times `opacity`. */
  blend(alpha: Float32Array, aw: number, ah: number, x0: number, y0: number, color: number[], opacity: number): void {
    for (let y = 0; y < ah; y++) {
      const cy = y + y0;
      if (cy < 0 || cy >= this.height) continue;
      for (let x = 0; x < aw; x++) {
        const cx = x + x0;
        if (cx < 0 || cx >= this.width) continue;
        const a = alpha[y * aw + x] * opacity;
        if (a <= 0) continue;
        const o = (cy * this.width + cx) * 3;
        for (let c = 0; c < 3; c++) this.data[o + c] += (color[c] - this.data[o + c]) * a;
      }
    }
  }

  toImage(): RgbImage {
    const out = new Uint8Array(this.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(this.data[i])));
    return { data: out, width: this.width, height: this.height, channels: 3 };
  }
}

/** Scaled coverage map of a glyph (Pillow-style bilinear on float, clamped to [0, 1]). */
function scaleInk(ink: Float32Array, w: number, h: number, outW: number, outH: number): Float32Array {
  const out = resizePixels(ink, h, w, 1, outH, outW) as Float32Array;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i]));
  return out;
}

/** Extent [x0, y0, x1, y1) of coverage >= threshold, or null. */
function inkExtent(alpha: Float32Array, w: number, h: number, threshold: number): Box | null {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (alpha[y * w + x] >= threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

function clamp255(v: number): number {
  return Math.min(255, Math.max(0, v));
}

/** A foreground colour of strong contrast with the background luminance. */
function foregroundColor(rng: Rng, backgroundLevel: number, light: boolean): number[] {
  const level = light ? rng.uniform(0, Math.max(10, backgroundLevel - 110)) : rng.uniform(Math.min(245, backgroundLevel + 110), 255);
  return [0, 1, 2].map(() => clamp255(level + rng.uniform(-30, 30)));
}

function drawLine(canvas: Canvas, rng: Rng, color: number[], opacity: number): void {
  const { width: W, height: H } = canvas;
  const ax = rng.uniform(0, W), ay = rng.uniform(0, H), bx = rng.uniform(0, W), by = rng.uniform(0, H);
  const thickness = rng.uniform(0.8, 2.2);
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - thickness - 1)), x1 = Math.min(W, Math.ceil(Math.max(ax, bx) + thickness + 1));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - thickness - 1)), y1 = Math.min(H, Math.ceil(Math.max(ay, by) + thickness + 1));
  const w = x1 - x0, h = y1 - y0;
  if (w <= 0 || h <= 0) return;
  const alpha = new Float32Array(w * h);
  const dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy || 1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const px = x + x0 + 0.5, py = y + y0 + 0.5;
      const t = Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / len2));
      const ex = px - (ax + t * dx), ey = py - (ay + t * dy);
      const d = Math.sqrt(ex * ex + ey * ey);
      alpha[y * w + x] = Math.min(1, Math.max(0, thickness / 2 + 0.5 - d));
    }
  canvas.blend(alpha, w, h, x0, y0, color, opacity);
}

/**
 * A piece of a digit: the part of its ink on one side of a random straight cut, holding 25..50% of the
 * ink, cropped to what is left. Strokes keep their natural ends except where the cut crosses them (like
 * an occluded digit), so the piece looks like stray handwriting, not like a rectangle.
 */
function fragmentOf(glyph: DigitGlyph, rng: Rng): { ink: Float32Array; width: number; height: number } | null {
  const { width: gw, height: gh, ink } = glyph;
  const theta = rng.uniform(0, 2 * Math.PI);
  const cx = Math.cos(theta), cy = Math.sin(theta);
  const proj: [number, number][] = []; // [projection, ink]
  let total = 0;
  for (let y = 0; y < gh; y++)
    for (let x = 0; x < gw; x++) {
      const v = ink[y * gw + x];
      if (v > 0) {
        proj.push([x * cx + y * cy, v]);
        total += v;
      }
    }
  proj.sort((a, b) => a[0] - b[0]);
  const target = total * rng.uniform(SCENE_PARAMS.fragmentInk[0], SCENE_PARAMS.fragmentInk[1]);
  let acc = 0, cut = proj[proj.length - 1][0];
  for (const [p, v] of proj) {
    acc += v;
    if (acc >= target) {
      cut = p;
      break;
    }
  }
  const kept = new Float32Array(gw * gh);
  let x0 = gw, y0 = gh, x1 = -1, y1 = -1;
  for (let y = 0; y < gh; y++)
    for (let x = 0; x < gw; x++) {
      const v = ink[y * gw + x] * Math.min(1, Math.max(0, cut - (x * cx + y * cy) + 0.5));
      kept[y * gw + x] = v;
      if (v > 0.05) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  if (x1 - x0 < 2 || y1 - y0 < 2) return null;
  const width = x1 - x0 + 1, height = y1 - y0 + 1;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) out.set(kept.subarray((y + y0) * gw + x0, (y + y0) * gw + x0 + width), y * width);
  return { ink: out, width, height };
}

export function renderScene(rng: Rng, pools: DigitPools, opts: SceneOptions = {}): Scene {
  const P = SCENE_PARAMS;
  const W = rng.int(P.canvasSize[0], P.canvasSize[1] + 1);
  const H = rng.int(P.canvasSize[0], P.canvasSize[1] + 1);
  const canvas = new Canvas(W, H);

  // background: level, tint, gradient
  const light = rng.bernoulli(P.lightBackgroundProb);
  const level = light ? rng.uniform(170, 250) : rng.uniform(0, 70);
  const tint = [0, 1, 2].map(() => rng.uniform(-25, 25));
  const gx = opts.clean ? 0 : rng.uniform(-30, 30) / W;
  const gy = opts.clean ? 0 : rng.uniform(-30, 30) / H;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const g = (x - W / 2) * gx + (y - H / 2) * gy;
      const o = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) canvas.data[o + c] = clamp255(level + tint[c] + g);
    }

  // lines under the digits
  if (!opts.clean) {
    const nLines = rng.int(P.lines[0], P.lines[1] + 1);
    for (let i = 0; i < nLines; i++) drawLine(canvas, rng, foregroundColor(rng, level, light), rng.uniform(0.3, 0.8));
  }

  // digits
  const objects: SceneObject[] = [];
  const nDigits = rng.int(P.digitsPerImage[0], P.digitsPerImage[1] + 1);
  for (let k = 0; k < nDigits; k++) {
    const label = rng.int(0, 10);
    const glyph = rng.choice(pools[label]);
    const maxHeight = Math.min(P.digitHeight[1], Math.floor(0.8 * Math.min(W, H)));
    const th = Math.round(Math.exp(rng.uniform(Math.log(P.digitHeight[0]), Math.log(maxHeight))));
    const tw = Math.max(1, Math.min(W - 2, Math.round((th * glyph.width * rng.uniform(P.aspectJitter[0], P.aspectJitter[1])) / glyph.height)));
    const alpha = scaleInk(glyph.ink, glyph.width, glyph.height, tw, th);
    const extent = inkExtent(alpha, tw, th, P.inkThreshold);
    if (!extent) continue;
    let placed: Box | null = null;
    for (let t = 0; t < P.placementTries && !placed; t++) {
      const x = rng.int(0, W - tw + 1), y = rng.int(0, H - th + 1);
      const box: Box = [x + extent[0], y + extent[1], x + extent[2], y + extent[3]];
      const ok = objects.every((o) => {
        const inter = intersection(box, o.box);
        const iou = inter / (area(box) + area(o.box) - inter);
        return iou <= P.maxBoxIou && inter <= P.maxCoveredFraction * Math.min(area(box), area(o.box));
      });
      if (ok) {
        placed = box;
        canvas.blend(alpha, tw, th, x, y, foregroundColor(rng, level, light), rng.uniform(0.8, 1));
      }
    }
    if (placed) objects.push({ label, box: placed });
  }

  // stroke fragments clear of every digit box (2 px margin)
  if (!opts.clean) {
    const nFragments = rng.int(P.fragments[0], P.fragments[1] + 1);
    for (let f = 0; f < nFragments; f++) {
      const source = rng.choice(pools[rng.choice(P.fragmentDigits)]);
      const piece = fragmentOf(source, rng);
      if (!piece) continue;
      const fh = rng.int(P.fragmentHeight[0], P.fragmentHeight[1] + 1);
      const fw = Math.max(2, Math.round((fh * piece.width) / piece.height));
      if (fw > W || fh > H) continue;
      const alpha = scaleInk(piece.ink, piece.width, piece.height, fw, fh);
      for (let t = 0; t < P.placementTries; t++) {
        const x = rng.int(0, W - fw + 1), y = rng.int(0, H - fh + 1);
        const box: Box = [x - 2, y - 2, x + fw + 2, y + fh + 2];
        if (objects.every((o) => intersection(box, o.box) === 0)) {
          canvas.blend(alpha, fw, fh, x, y, foregroundColor(rng, level, light), rng.uniform(0.6, 1));
          break;
        }
      }
    }

    // sensor noise, shared by the three channels: per pixel the sum of the 4 bytes of one random uint32
    // (Irwin-Hall, near-Gaussian; mean 510, std sqrt(4 * (256^2 - 1) / 12)) scaled to std `sigma`;
    // 25x cheaper than Box-Muller and exactly reproducible (integer arithmetic)
    const sigma = rng.uniform(P.noiseSigma[0], P.noiseSigma[1]);
    const scale = sigma / Math.sqrt((4 * (256 * 256 - 1)) / 12);
    for (let i = 0; i < W * H; i++) {
      const u = rng.nextUint32();
      const n = ((u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24) - 510) * scale;
      for (let c = 0; c < 3; c++) canvas.data[i * 3 + c] += n;
    }
  }

  return { image: canvas.toImage(), objects };
}
