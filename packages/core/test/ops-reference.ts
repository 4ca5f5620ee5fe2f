/**
 * Independent float64 references for the ops/grad tests: a direct-loop convolution with PyTorch's
 * conv2d semantics (torch.nn.functional.conv2d: symmetric zero padding, stride, dilation, groups),
 * in NHWC/HWIO layout, and central finite differences. No tfjs.
 */

export interface ConvRefOptions {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

export type Shape4 = [number, number, number, number];

/** Output spatial size, PyTorch's formula floor((H + 2p - d(k-1) - 1)/s) + 1. */
export function convOutSize(h: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((h + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** y = conv(x, w) in float64; x [N,H,W,C], w [kh,kw,C/groups,Cout] -> y [N,Ho,Wo,Cout]. */
export function convRef(x: Float64Array, xs: Shape4, w: Float64Array, ws: Shape4, o: ConvRefOptions): { y: Float64Array; shape: Shape4 } {
  const [n, h, wd, c] = xs;
  const [kh, kw, cinG, cout] = ws;
  const coutG = cout / o.groups;
  const ho = convOutSize(h, kh, o.stride[0], o.padding[0], o.dilation[0]);
  const wo = convOutSize(wd, kw, o.stride[1], o.padding[1], o.dilation[1]);
  const y = new Float64Array(n * ho * wo * cout);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let oc = 0; oc < cout; oc++) {
          const g = Math.floor(oc / coutG);
          let acc = 0;
          for (let a = 0; a < kh; a++) {
            const r = i * o.stride[0] + a * o.dilation[0] - o.padding[0];
            if (r < 0 || r >= h) continue;
            for (let q = 0; q < kw; q++) {
              const s = j * o.stride[1] + q * o.dilation[1] - o.padding[1];
              if (s < 0 || s >= wd) continue;
              for (let ci = 0; ci < cinG; ci++) {
                acc += x[((b * h + r) * wd + s) * c + g * cinG + ci] * w[((a * kw + q) * cinG + ci) * cout + oc];
              }
            }
          }
          y[((b * ho + i) * wo + j) * cout + oc] = acc;
        }
      }
    }
  }
  return { y, shape: [n, ho, wo, cout] };
}

/** Central differences of a scalar function of one Float64Array, for every element. */
export function finiteDifferences(f: (v: Float64Array) => number, v: Float64Array, h = 1e-3): Float64Array {
  const g = new Float64Array(v.length);
  const t = Float64Array.from(v);
  for (let i = 0; i < v.length; i++) {
    t[i] = v[i] + h;
    const up = f(t);
    t[i] = v[i] - h;
    const down = f(t);
    t[i] = v[i];
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Seeded float32 values of mixed magnitude (1e-decades .. 1e+decades, both signs), for exact-bits tests. */
export function mixedMagnitude(n: number, seed: number, decades: number): Float32Array {
  const u = seeded(n, seed);
  const e = seeded(n, seed + 1);
  return Float32Array.from(u, (v, i) => v * 10 ** Math.round(decades * e[i]));
}

/** Deterministic values in [-1, 1) from a small LCG (tests need no global RNG state). */
export function seeded(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
