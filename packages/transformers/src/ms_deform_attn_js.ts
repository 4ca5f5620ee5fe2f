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
 * offsets of value[b, token, 0, 0] (-1 when the corner is outside the map: zero padding), weights, and
 * the weights' derivatives with respect to the fractional parts fx, fy. Written into reused arrays.
 */
class Corners {
  readonly off = new Int32Array(4);
  readonly w = new Float64Array(4);
  readonly dwdx = new Float64Array(4);
  readonly dwdy = new Float64Array(4);

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
    off[0] = inY0 && inX0 ? base : -1;
    off[1] = inY0 && inX1 ? base + rowStride : -1;
    off[2] = inY1 && inX0 ? base + lvl.w * rowStride : -1;
    off[3] = inY1 && inX1 ? base + (lvl.w + 1) * rowStride : -1;
    w[0] = gx * gy; dwdx[0] = -gy; dwdy[0] = -gx;
    w[1] = fx * gy; dwdx[1] = gy; dwdy[1] = -fx;
    w[2] = gx * fy; dwdx[2] = -fy; dwdy[2] = gx;
    w[3] = fx * fy; dwdx[3] = fy; dwdy[3] = fx;
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
  for (let bi = 0; bi < b; bi++) {
    for (let q = 0; q < nq; q++) {
      for (let h = 0; h < heads; h++) {
        acc.fill(0);
        const row = (bi * nq + q) * heads + h;
        for (let l = 0; l < nl; l++) {
          for (let p = 0; p < points; p++) {
            const li = (row * nl + l) * points + p;
            const a = attn[li];
            cs.set(loc[2 * li], loc[2 * li + 1], levels[l], bi * nv, rowStride);
            for (let k = 0; k < 4; k++) {
              if (cs.off[k] < 0) continue;
              const coef = a * cs.w[k];
              const v0 = cs.off[k] + h * d;
              for (let c = 0; c < d; c++) acc[c] += coef * value[v0 + c];
            }
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
  for (let bi = 0; bi < b; bi++) {
    for (let q = 0; q < nq; q++) {
      for (let h = 0; h < heads; h++) {
        const row = (bi * nq + q) * heads + h;
        const g0 = row * d; // dy[b, q, h*d + c]
        for (let l = 0; l < nl; l++) {
          const lvl = levels[l];
          for (let p = 0; p < points; p++) {
            const li = (row * nl + l) * points + p;
            const a = attn[li];
            let da = 0;
            let dfx = 0;
            let dfy = 0;
            cs.set(loc[2 * li], loc[2 * li + 1], lvl, bi * nv, rowStride);
            for (let k = 0; k < 4; k++) {
              if (cs.off[k] < 0) continue;
              const v0 = cs.off[k] + h * d;
              const coef = a * cs.w[k];
              let dot = 0;
              for (let c = 0; c < d; c++) {
                const g = dy[g0 + c];
                dot += value[v0 + c] * g;
                dValue[v0 + c] += coef * g;
              }
              da += cs.w[k] * dot;
              dfx += a * dot * cs.dwdx[k];
              dfy += a * dot * cs.dwdy[k];
            }
            dAttn[li] = da;
            dLoc[2 * li] = dfx * lvl.w;
            dLoc[2 * li + 1] = dfy * lvl.h;
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
