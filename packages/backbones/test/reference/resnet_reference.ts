/**
 * An independent float64 re-implementation (plain loops, no tfjs) of the pieces of detectron2's ResNet
 * the tests check: NHWC convolution with PyTorch's zero padding / stride / dilation, FrozenBN, ReLU and
 * the bottleneck block. Used as the reference for DC5 (no PyTorch fixture has a dilated res5) and for
 * finite-difference gradients.
 */

export interface Array4 {
  data: Float64Array;
  /** [N, H, W, C] for maps, [kh, kw, Cin, Cout] (HWIO) for conv filters. */
  shape: [number, number, number, number];
}

export function conv2dRef(x: Array4, w: Array4, stride: number, pad: number, dilation: number): Array4 {
  const [n, h, wd, cin] = x.shape;
  const [kh, kw, wcin, cout] = w.shape;
  if (wcin !== cin) throw new Error(`conv2dRef: input has ${cin} channels, filter expects ${wcin}`);
  const ho = Math.floor((h + 2 * pad - dilation * (kh - 1) - 1) / stride) + 1;
  const wo = Math.floor((wd + 2 * pad - dilation * (kw - 1) - 1) / stride) + 1;
  const out = new Float64Array(n * ho * wo * cout);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++) {
        const o = ((b * ho + i) * wo + j) * cout;
        for (let a = 0; a < kh; a++) {
          const y = i * stride - pad + a * dilation;
          if (y < 0 || y >= h) continue;
          for (let c = 0; c < kw; c++) {
            const xx = j * stride - pad + c * dilation;
            if (xx < 0 || xx >= wd) continue;
            const xi = ((b * h + y) * wd + xx) * cin;
            const wi = (a * kw + c) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const v = x.data[xi + ci];
              if (v === 0) continue;
              const wrow = wi + ci * cout;
              for (let co = 0; co < cout; co++) out[o + co] += v * w.data[wrow + co];
            }
          }
        }
      }
  return { data: out, shape: [n, ho, wo, cout] };
}

export interface FrozenBNRef {
  weight: Float64Array;
  bias: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  eps: number;
}

/** y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (last axis). */
export function frozenBNRef(x: Array4, bn: FrozenBNRef): Array4 {
  const c = x.shape[3];
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < x.data.length; i++) {
    const k = i % c;
    out[i] = ((x.data[i] - bn.mean[k]) / Math.sqrt(bn.variance[k] + bn.eps)) * bn.weight[k] + bn.bias[k];
  }
  return { data: out, shape: x.shape };
}

export function reluRef(x: Array4): Array4 {
  return { data: x.data.map((v) => (v > 0 ? v : 0)), shape: x.shape };
}

export function addRef(a: Array4, b: Array4): Array4 {
  return { data: a.data.map((v, i) => v + b.data[i]), shape: a.shape };
}

export interface ConvBNRef {
  weight: Array4;
  bn: FrozenBNRef;
  stride: number;
  pad: number;
  dilation: number;
}

export interface BottleneckRef {
  shortcut: ConvBNRef | null;
  conv1: ConvBNRef;
  conv2: ConvBNRef;
  conv3: ConvBNRef;
}

function convBN(x: Array4, p: ConvBNRef): Array4 {
  return frozenBNRef(conv2dRef(x, p.weight, p.stride, p.pad, p.dilation), p.bn);
}

/** detectron2 BottleneckBlock.forward in float64. */
export function bottleneckRef(x: Array4, p: BottleneckRef): Array4 {
  let out = reluRef(convBN(x, p.conv1));
  out = reluRef(convBN(out, p.conv2));
  out = convBN(out, p.conv3);
  const shortcut = p.shortcut ? convBN(x, p.shortcut) : x;
  return reluRef(addRef(out, shortcut));
}
