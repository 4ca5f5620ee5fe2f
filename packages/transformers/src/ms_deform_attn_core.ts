/**
 * Multi-scale deformable attention sampling in pure tfjs (detrex
 * `detrex/layers/multi_scale_deform_attn.py::multi_scale_deformable_attn_pytorch`, i.e.
 * `F.grid_sample(bilinear, padding_mode="zeros", align_corners=False)` per level):
 *
 *   out[b, q, h*d + c] = sum_{l,p} A[b,q,h,l,p] * bilinear(V_l[b,:,:,h,c], x = loc_x*W_l - 0.5, y = loc_y*H_l - 0.5)
 *
 * with pixel centres at integer coordinates and every corner outside [0,W-1]x[0,H-1] contributing 0.
 *
 * Implementations with identical values (`msDeformAttnCore` in ms_deform_attn.ts picks one):
 * - `msDeformAttnCoreJs` (ms_deform_attn_js.ts, the default where the backend reads synchronously):
 *   one plain-JS loop over the sampling points, forward and backward;
 * - `msDeformAttnCoreGather`: tfjs ops only (any backend), a custom gradient that keeps only the three inputs for backward and
 *   recomputes the gathers there, so the tape never holds the [.., points, d] gathered tensors.
 *   Forward samples one (level, corner) at a time: the largest temporary is one gather of
 *   B*Nq*heads*P rows of d floats (plus its weighted copy).
 * - `msDeformAttnCoreAutodiff`: the readable reference, differentiated by tfjs (gather's gradient is
 *   UnsortedSegmentSum, the locations' gradient flows through the bilinear weights; floor is cut).
 */
import * as tf from '@tensorflow/tfjs';
import { stopGradient } from './stop_gradient';

export type SpatialShapes = readonly (readonly [number, number])[];

export interface CoreDims {
  b: number;
  nv: number;
  heads: number;
  d: number;
  nq: number;
  levels: number;
  points: number;
}

export function checkInputs(value: tf.Tensor, spatialShapes: SpatialShapes, loc: tf.Tensor, attn: tf.Tensor): CoreDims {
  if (value.rank !== 4) throw new Error(`msDeformAttnCore: value must be [B, Nv, heads, d], got [${value.shape}]`);
  if (loc.rank !== 6 || loc.shape[5] !== 2) throw new Error(`msDeformAttnCore: sampling_locations must be [B, Nq, heads, L, P, 2], got [${loc.shape}]`);
  if (attn.rank !== 5) throw new Error(`msDeformAttnCore: attention_weights must be [B, Nq, heads, L, P], got [${attn.shape}]`);
  const [b, nv, heads, d] = value.shape;
  const [lb, nq, lh, levels, points] = loc.shape;
  if (lb !== b || lh !== heads) throw new Error(`msDeformAttnCore: sampling_locations [${loc.shape}] do not match value [${value.shape}]`);
  if (attn.shape.join() !== loc.shape.slice(0, 5).join()) throw new Error(`msDeformAttnCore: attention_weights [${attn.shape}] do not match sampling_locations [${loc.shape}]`);
  if (spatialShapes.length !== levels) throw new Error(`msDeformAttnCore: ${spatialShapes.length} spatial shapes for ${levels} levels`);
  const total = spatialShapes.reduce((s, [h, w]) => s + h * w, 0);
  if (total !== nv) throw new Error(`msDeformAttnCore: spatial shapes [${spatialShapes.map((s) => s.join('x'))}] hold ${total} tokens but value has ${nv}`);
  return { b, nv, heads, d, nq, levels, points };
}

/** First token of each level. */
export function levelStartIndex(spatialShapes: SpatialShapes): number[] {
  const out: number[] = [];
  let start = 0;
  for (const [h, w] of spatialShapes) {
    out.push(start);
    start += h * w;
  }
  return out;
}

/** One bilinear corner of one level: its gather rows and its weight (bilinear x inside). */
interface Corner {
  /** Rows of the [B*Nv*heads, d] value table, int32 [B*Nq*heads*P]. */
  rows: tf.Tensor1D;
  /** 1 where the corner is inside the map, else 0: [B, Nq, heads, P]. */
  inside: tf.Tensor;
  /** Bilinear weight of the corner: [B, Nq, heads, P]. */
  bilinear: tf.Tensor;
  /** d bilinear / d fx and d bilinear / d fy (backward only). */
  dBilinearDfx: tf.Tensor;
  dBilinearDfy: tf.Tensor;
}

/**
 * The four corners of level l for locations locL [B,Nq,heads,P,2], each built lazily (call it inside
 * the corner's tidy so only one corner's index tensors live at a time). The value table is value
 * [B,Nv,heads,d] viewed as [B*Nv*heads, d] (no transpose): row = (b*Nv + start + y*W + x)*heads + head.
 */
function levelCorners(locL: tf.Tensor, dims: CoreDims, hl: number, wl: number, start: number): (() => Corner)[] {
  const { b, nv, heads, nq, points } = dims;
  const [locX, locY] = tf.unstack(locL, -1); // 2 x [B,Nq,heads,P]
  const x = locX.mul(wl).sub(0.5);
  const y = locY.mul(hl).sub(0.5);
  const x0 = tf.floor(stopGradient(x));
  const y0 = tf.floor(stopGradient(y));
  const fx = x.sub(x0); // in [0,1), carries the gradient to the locations
  const fy = y.sub(y0);
  const gx = tf.scalar(1).sub(fx);
  const gy = tf.scalar(1).sub(fy);
  // Row offset of (b, head): b*Nv*heads + head, as [B,1,heads,1].
  const offset = tf.tensor1d(Array.from({ length: b }, (_, i) => i * nv * heads)).reshape([b, 1, 1, 1])
    .add(tf.range(0, heads, 1, 'float32').reshape([1, 1, heads, 1]));
  const corner = (dx: number, dy: number, bilinear: tf.Tensor, dfx: tf.Tensor, dfy: tf.Tensor): Corner => {
    const xc = dx ? x0.add(1) : x0;
    const yc = dy ? y0.add(1) : y0;
    const inside = tf.logicalAnd(
      tf.logicalAnd(xc.greaterEqual(0), xc.lessEqual(wl - 1)),
      tf.logicalAnd(yc.greaterEqual(0), yc.lessEqual(hl - 1)),
    ).cast('float32');
    const token = yc.clipByValue(0, hl - 1).mul(wl).add(xc.clipByValue(0, wl - 1)).add(start); // [B,Nq,heads,P]
    const rows = token.mul(heads).add(offset).reshape([b * nq * heads * points]).cast('int32') as tf.Tensor1D;
    return { rows, inside, bilinear, dBilinearDfx: dfx, dBilinearDfy: dfy };
  };
  return [
    () => corner(0, 0, gx.mul(gy), gy.neg(), gx.neg()),
    () => corner(1, 0, fx.mul(gy), gy, fx.neg()),
    () => corner(0, 1, gx.mul(fy), fy.neg(), gx),
    () => corner(1, 1, fx.mul(fy), fy, fx),
  ];
}

/** loc [B,Nq,heads,L,P,2] -> level l [B,Nq,heads,P,2]; attn [B,Nq,heads,L,P] -> [B,Nq,heads,P]. */
function levelSlices(loc: tf.Tensor, attn: tf.Tensor, dims: CoreDims, l: number): [tf.Tensor, tf.Tensor] {
  const { b, nq, heads, points } = dims;
  const locL = loc.slice([0, 0, 0, l, 0, 0], [b, nq, heads, 1, points, 2]).reshape([b, nq, heads, points, 2]);
  const attnL = attn.slice([0, 0, 0, l, 0], [b, nq, heads, 1, points]).reshape([b, nq, heads, points]);
  return [locL, attnL];
}

/** Forward sampling shared by both paths: sum over levels and corners of coef-weighted gathered rows. */
function sampleForward(table: tf.Tensor2D, spatialShapes: SpatialShapes, loc: tf.Tensor, attn: tf.Tensor, dims: CoreDims): tf.Tensor {
  const { b, nq, heads, d, points } = dims;
  const starts = levelStartIndex(spatialShapes);
  let acc: tf.Tensor | null = null;
  spatialShapes.forEach(([hl, wl], l) => {
    const previous: tf.Tensor | null = acc;
    acc = tf.tidy(() => {
      const [locL, attnL] = levelSlices(loc, attn, dims, l);
      let accL = previous;
      for (const makeCorner of levelCorners(locL, dims, hl, wl, starts[l])) {
        // One corner at a time bounds the peak to one gather (and its index tensors).
        const sampled = tf.tidy(() => {
          const c = makeCorner();
          const coef = c.bilinear.mul(c.inside).mul(attnL).reshape([b * nq * heads, 1, points]); // [B*Nq*h, 1, P]
          const gathered = tf.gather(table, c.rows).reshape([b * nq * heads, points, d]); // [B*Nq*h, P, d]
          return tf.matMul(coef, gathered).reshape([b * nq * heads, d]); // sum over P: [B*Nq*h, d]
        });
        accL = accL ? accL.add(sampled) : sampled;
      }
      return accL as tf.Tensor;
    });
    if (previous) previous.dispose();
  });
  return tf.tidy(() => {
    const out = (acc as unknown as tf.Tensor).reshape([b, nq, heads * d]); // [B, Nq, heads*d]
    (acc as unknown as tf.Tensor).dispose();
    return out;
  });
}

/**
 * Reference implementation differentiated by tfjs autodiff. value [B,Nv,heads,d], locations
 * [B,Nq,heads,L,P,2] (x, y in [0,1]), attention weights [B,Nq,heads,L,P] -> [B,Nq,heads*d].
 */
export function msDeformAttnCoreAutodiff(value: tf.Tensor, spatialShapes: SpatialShapes, samplingLocations: tf.Tensor, attentionWeights: tf.Tensor): tf.Tensor {
  const dims = checkInputs(value, spatialShapes, samplingLocations, attentionWeights);
  return tf.tidy(() => {
    const table = value.reshape([dims.b * dims.nv * dims.heads, dims.d]) as tf.Tensor2D; // [B*Nv*h, d]
    return sampleForward(table, spatialShapes, samplingLocations, attentionWeights, dims);
  });
}

/**
 * Multi-scale deformable attention core with a memory-bounded custom gradient (see the file comment).
 * value [B,Nv,heads,d], sampling_locations [B,Nq,heads,L,P,2], attention_weights [B,Nq,heads,L,P]
 * -> [B,Nq,heads*d]. Gradients: d value (scatter-add of coef x dy), d attention weights
 * (bilinear x inside x <V_corner, dy>) and d locations (through the bilinear weights, times W_l / H_l).
 */
export function msDeformAttnCoreGather(value: tf.Tensor, spatialShapes: SpatialShapes, samplingLocations: tf.Tensor, attentionWeights: tf.Tensor): tf.Tensor {
  const dims = checkInputs(value, spatialShapes, samplingLocations, attentionWeights);
  const { b, nv, heads, d, nq, points } = dims;
  const forward = (v: tf.Tensor, loc: tf.Tensor, attn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([v, loc, attn]);
    const table = v.reshape([b * nv * heads, d]) as tf.Tensor2D;
    const value = sampleForward(table, spatialShapes, loc, attn, dims);
    // tidy: a custom gradient runs outside backprop's per-node tidy (temporaries would live to the end).
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => tf.tidy(() => {
      const [sv, sloc, sattn] = saved;
      const rowsTotal = b * nv * heads;
      const tableB = sv.reshape([rowsTotal, d]) as tf.Tensor2D;
      const dyRows = dy.reshape([b * nq * heads, 1, d]); // [B*Nq*h, 1, d]
      const starts = levelStartIndex(spatialShapes);
      let dValue: tf.Tensor = tf.zeros([rowsTotal, d]);
      const dAttnLevels: tf.Tensor[] = [];
      const dLocLevels: tf.Tensor[] = [];
      spatialShapes.forEach(([hl, wl], l) => {
        const previous = dValue;
        const [dv, dAttnL, dLocL] = tf.tidy(() => {
          const [locL, attnL] = levelSlices(sloc, sattn, dims, l);
          let dvL = previous;
          let dA: tf.Tensor = tf.zeros([b, nq, heads, points]);
          let dFx: tf.Tensor = tf.zeros([b, nq, heads, points]);
          let dFy: tf.Tensor = tf.zeros([b, nq, heads, points]);
          for (const makeCorner of levelCorners(locL, dims, hl, wl, starts[l])) {
            [dvL, dA, dFx, dFy] = tf.tidy(() => {
              const c = makeCorner();
              const coef = c.bilinear.mul(c.inside).mul(attnL); // [B,Nq,h,P]
              // dValue[row] += coef * dy; scatterND sums duplicate rows.
              const updates = dyRows.mul(coef.reshape([b * nq * heads, points, 1])).reshape([-1, d]); // [B*Nq*h*P, d]
              const nextDv = dvL.add(tf.scatterND(c.rows.reshape([-1, 1]), updates, [rowsTotal, d]));
              // <V_corner, dy> per sampling point.
              const gathered = tf.gather(tableB, c.rows).reshape([b * nq * heads, points, d]); // [B*Nq*h, P, d]
              const insideDot = gathered.mul(dyRows).sum(-1).reshape([b, nq, heads, points]).mul(c.inside); // [B,Nq,h,P]
              const weighted = insideDot.mul(attnL);
              return [nextDv, dA.add(insideDot.mul(c.bilinear)), dFx.add(weighted.mul(c.dBilinearDfx)), dFy.add(weighted.mul(c.dBilinearDfy))];
            });
          }
          return [dvL, dA, tf.stack([dFx.mul(wl), dFy.mul(hl)], -1)]; // dLoc_l [B,Nq,h,P,2]
        });
        previous.dispose();
        dValue = dv;
        dAttnLevels.push(dAttnL);
        dLocLevels.push(dLocL);
      });
      return [
        dValue.reshape([b, nv, heads, d]),
        tf.stack(dLocLevels, 3), // [B,Nq,h,L,P,2]
        tf.stack(dAttnLevels, 3), // [B,Nq,h,L,P]
      ];
    });
    return { value, gradFunc };
  };
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(value, samplingLocations, attentionWeights);
}
