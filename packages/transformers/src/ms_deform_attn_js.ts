/**
 * Multi-scale deformable attention sampling as one plain-JS pass (forward and backward), wrapped in a
 * tf.customGrad. Same maths as `ms_deform_attn_core.ts` (detrex `multi_scale_deformable_attn_pytorch`:
 * bilinear, zero padding, x = loc_x*W - 0.5), but a loop over the sampling points instead of ~40 tfjs
 * ops per (level, corner): tfjs's gather / broadcast-multiply / scatter kernels cost microseconds per
 * element on the cpu and wasm backends (measured in bench/model_forward.ts --msda), which made the
 * op-composed version 10-100x slower than this loop.
 *
 * Backends: reads inputs with dataSync() and writes outputs with tf.tensor(), so it needs a backend
 * with synchronous reads (cpu, wasm, tfjs-node). Memory: besides the inputs' JS copies it allocates only
 * the output [B,Nq,heads*d] (backward: the three gradients); no per-point tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { checkInputs, levelStartIndex, type CoreDims, type SpatialShapes } from './ms_deform_attn_core';

interface Level {
  h: number;
  w: number;
  start: number;
}

/**
 * The 4 bilinear corners of one sampling point (pixel centres at integers, x = loc_x*W - 0.5):
 * offsets of value[b, token, 0, 0], weights, and the weights' derivatives with respect to the
 * fractional parts fx, fy. Written into reused arrays. A corner outside the map (zero padding) gets
 * weight and derivatives 0 and the offset of a corner inside, so the loops below can read all four
 * corners in one pass without branches (a zero weight times a finite value adds nothing); `any` is
 * false when no corner is inside.
 */
class Corners {
  readonly off = new Int32Array(4);
  readonly w = new Float64Array(4);
  readonly dwdx = new Float64Array(4);
  readonly dwdy = new Float64Array(4);
  any = false;

  set(locX: number, locY: number, lvl: Level, tokenBase: number, rowStride: number): void {
    const x = locX * lvl.w - 0.5;
    const y = locY * lvl.h - 0.5;
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const fx = x - x0;
    const fy = y - y0;
    const gx = 1 - fx;
    const gy = 1 - fy;
    const inX0 = x0 >= 0 && x0 <= lvl.w - 1;
    const inX1 = x0 >= -1 && x0 <= lvl.w - 2;
    const inY0 = y0 >= 0 && y0 <= lvl.h - 1;
    const inY1 = y0 >= -1 && y0 <= lvl.h - 2;
    const base = (tokenBase + lvl.start + y0 * lvl.w + x0) * rowStride;
    const { off, w, dwdx, dwdy } = this;
    const in0 = inY0 && inX0;
    const in1 = inY0 && inX1;
    const in2 = inY1 && inX0;
    const in3 = inY1 && inX1;
    off[0] = base;
    off[1] = base + rowStride;
    off[2] = base + lvl.w * rowStride;
    off[3] = base + (lvl.w + 1) * rowStride;
    w[0] = gx * gy; dwdx[0] = -gy; dwdy[0] = -gx;
    w[1] = fx * gy; dwdx[1] = gy; dwdy[1] = -fx;
    w[2] = gx * fy; dwdx[2] = -fy; dwdy[2] = gx;
    w[3] = fx * fy; dwdx[3] = fy; dwdy[3] = fx;
    this.any = in0 || in1 || in2 || in3;
    if (in0 && in1 && in2 && in3) return;
    const fallback = in0 ? off[0] : in1 ? off[1] : in2 ? off[2] : off[3];
    if (!in0) this.zero(0, fallback);
    if (!in1) this.zero(1, fallback);
    if (!in2) this.zero(2, fallback);
    if (!in3) this.zero(3, fallback);
  }

  /** Corner k outside the map: weight and derivatives 0, offset of a corner inside. */
  private zero(k: number, fallback: number): void {
    this.off[k] = fallback;
    this.w[k] = 0;
    this.dwdx[k] = 0;
    this.dwdy[k] = 0;
  }
}

function levelsOf(spatialShapes: SpatialShapes): Level[] {
  const starts = levelStartIndex(spatialShapes);
  return spatialShapes.map(([h, w], l) => ({ h, w, start: starts[l] }));
}

function forwardJs(value: Float32Array, loc: Float32Array, attn: Float32Array, levels: Level[], dims: CoreDims): Float32Array {
  const { b, nv, heads, d, nq, points } = dims;
  const nl = levels.length;
  const rowStride = heads * d; // floats per token in value
  const out = new Float32Array(b * nq * heads * d);
  const acc = new Float64Array(d);
  const cs = new Corners();
  const { off, w } = cs;
  for (let bi = 0; bi < b; bi++) {
    for (let q = 0; q < nq; q++) {
      for (let h = 0; h < heads; h++) {
        acc.fill(0);
        const row = (bi * nq + q) * heads + h;
        for (let l = 0; l < nl; l++) {
          for (let p = 0; p < points; p++) {
            const li = (row * nl + l) * points + p;
            cs.set(loc[2 * li], loc[2 * li + 1], levels[l], bi * nv, rowStride);
            if (!cs.any) continue;
            const a = attn[li];
            const c0 = a * w[0], c1 = a * w[1], c2 = a * w[2], c3 = a * w[3];
            const o0 = off[0] + h * d, o1 = off[1] + h * d, o2 = off[2] + h * d, o3 = off[3] + h * d;
            for (let c = 0; c < d; c++) acc[c] += c0 * value[o0 + c] + c1 * value[o1 + c] + c2 * value[o2 + c] + c3 * value[o3 + c];
          }
        }
        out.set(acc, row * d);
      }
    }
  }
  return out;
}

function backwardJs(value: Float32Array, loc: Float32Array, attn: Float32Array, dy: Float32Array, levels: Level[], dims: CoreDims): [Float32Array, Float32Array, Float32Array] {
  const { b, nv, heads, d, nq, points } = dims;
  const nl = levels.length;
  const rowStride = heads * d;
  const dValue = new Float64Array(value.length);
  const dLoc = new Float32Array(loc.length);
  const dAttn = new Float32Array(attn.length);
  const cs = new Corners();
  const { off, w, dwdx, dwdy } = cs;
  for (let bi = 0; bi < b; bi++) {
    for (let q = 0; q < nq; q++) {
      for (let h = 0; h < heads; h++) {
        const row = (bi * nq + q) * heads + h;
        const g0 = row * d; // dy[b, q, h*d + c]
        for (let l = 0; l < nl; l++) {
          const lvl = levels[l];
          for (let p = 0; p < points; p++) {
            const li = (row * nl + l) * points + p;
            cs.set(loc[2 * li], loc[2 * li + 1], lvl, bi * nv, rowStride);
            if (!cs.any) continue; // every corner outside: all gradients of this point are 0
            const a = attn[li];
            const c0 = a * w[0], c1 = a * w[1], c2 = a * w[2], c3 = a * w[3];
            const o0 = off[0] + h * d, o1 = off[1] + h * d, o2 = off[2] + h * d, o3 = off[3] + h * d;
            // <V_corner, dy> per corner, and dValue[corner] += a * w_corner * dy (0 for outside corners).
            let dot0 = 0, dot1 = 0, dot2 = 0, dot3 = 0;
            for (let c = 0; c < d; c++) {
              const g = dy[g0 + c];
              dot0 += value[o0 + c] * g;
              dot1 += value[o1 + c] * g;
              dot2 += value[o2 + c] * g;
              dot3 += value[o3 + c] * g;
              dValue[o0 + c] += c0 * g;
              dValue[o1 + c] += c1 * g;
              dValue[o2 + c] += c2 * g;
              dValue[o3 + c] += c3 * g;
            }
            dAttn[li] = w[0] * dot0 + w[1] * dot1 + w[2] * dot2 + w[3] * dot3;
            dLoc[2 * li] = a * (dot0 * dwdx[0] + dot1 * dwdx[1] + dot2 * dwdx[2] + dot3 * dwdx[3]) * lvl.w;
            dLoc[2 * li + 1] = a * (dot0 * dwdy[0] + dot1 * dwdy[1] + dot2 * dwdy[2] + dot3 * dwdy[3]) * lvl.h;
          }
        }
      }
    }
  }
  return [Float32Array.from(dValue), dLoc, dAttn];
}

/**
 * value [B,Nv,heads,d], sampling_locations [B,Nq,heads,L,P,2], attention_weights [B,Nq,heads,L,P]
 * -> [B,Nq,heads*d], with gradients to all three inputs. Needs a backend with synchronous reads.
 */
export function msDeformAttnCoreJs(value: tf.Tensor, spatialShapes: SpatialShapes, samplingLocations: tf.Tensor, attentionWeights: tf.Tensor): tf.Tensor {
  const dims = checkInputs(value, spatialShapes, samplingLocations, attentionWeights);
  const levels = levelsOf(spatialShapes);
  const forward = (v: tf.Tensor, loc: tf.Tensor, attn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([v, loc, attn]);
    const out = forwardJs(v.dataSync() as Float32Array, loc.dataSync() as Float32Array, attn.dataSync() as Float32Array, levels, dims);
    return {
      value: tf.tensor(out, [dims.b, dims.nq, dims.heads * dims.d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sv, sloc, sattn] = saved;
        const [dv, dl, da] = backwardJs(sv.dataSync() as Float32Array, sloc.dataSync() as Float32Array, sattn.dataSync() as Float32Array, dy.dataSync() as Float32Array, levels, dims);
        return [tf.tensor(dv, sv.shape), tf.tensor(dl, sloc.shape), tf.tensor(da, sattn.shape)];
      },
    };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(value, samplingLocations, attentionWeights);
}
