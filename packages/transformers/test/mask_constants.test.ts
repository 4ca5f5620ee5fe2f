// The mask-derived constants computed in plain JS (position embedding, level masks, valid ratios,
// encoder reference points, two-stage proposals) against their tfjs-op formulations (detrex's
// formulas written as tensor ops, as this package computed them before), on padded masks of several
// shapes. On the cpu backend both run the same float32 operation sequence, so values must agree to
// float32 rounding of the transcendental functions (the tensor side rounds sin / log per op too).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, expectExact } from '@detr/core/testing';
import {
  MultiheadAttention,
  PositionEmbeddingSine,
  encoderReferencePoints,
  genEncoderOutputProposals,
  getSinePosEmbed,
  getValidRatios,
  interpolateMaskNearest,
  sineDimT,
} from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** [B,H,W] bool, image b valid in its top-left validH[b] x validW[b] block. */
function paddedMask(h: number, w: number, valid: [number, number][]): tf.Tensor3D {
  const data = new Uint8Array(valid.length * h * w);
  valid.forEach(([vh, vw], b) => {
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) data[(b * h + i) * w + j] = i >= vh || j >= vw ? 1 : 0;
  });
  return tf.tensor3d(data, [valid.length, h, w], 'bool');
}

const VALID: [number, number][] = [[37, 53], [64, 40], [20, 64]];
const LEVEL_SIZES: [number, number][] = [[8, 8], [4, 4], [2, 2], [1, 1]];

/** detrex PositionEmbeddingSine.forward as tensor ops (NHWC). */
function positionEmbeddingRef(mask: tf.Tensor3D, f: number, temperature: number, normalize: boolean, offset: number, scale = 2 * Math.PI, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const [b, h, w] = mask.shape;
    const notMask = tf.logicalNot(mask).cast('float32');
    let y: tf.Tensor = tf.cumsum(notMask, 1);
    let x: tf.Tensor = tf.cumsum(notMask, 2);
    if (normalize) {
      y = y.add(offset).div(y.slice([0, h - 1, 0], [b, 1, w]).add(eps)).mul(scale);
      x = x.add(offset).div(x.slice([0, 0, w - 1], [b, h, 1]).add(eps)).mul(scale);
    }
    const dimT = tf.tensor1d(sineDimT(f, temperature));
    const inter = (a: tf.Tensor) => {
      const [even, odd] = tf.unstack(a.reshape([b, h, w, f / 2, 2]), -1);
      return tf.stack([tf.sin(even), tf.cos(odd)], -1).reshape([b, h, w, f]);
    };
    return tf.concat([inter(y.expandDims(-1).div(dimT)), inter(x.expandDims(-1).div(dimT))], -1);
  });
}

describe('PositionEmbeddingSine in plain JS', () => {
  for (const [normalize, offset, temperature] of [[true, -0.5, 10000], [true, 0, 20], [false, 0, 10000]] as const) {
    it(`equals the tensor-op formula at every position (normalize ${normalize}, offset ${offset}, T ${temperature})`, () => {
      const mask = paddedMask(64, 64, VALID);
      for (const [h, w] of [[64, 64], [8, 8], [3, 5]] as [number, number][]) {
        const m = interpolateMaskNearest(mask, [h, w]);
        const got = new PositionEmbeddingSine({ num_pos_feats: 16, temperature, normalize, offset }).forward(m);
        const ref = positionEmbeddingRef(m, 16, temperature, normalize, offset);
        expect(got.shape).toEqual([3, h, w, 32]);
        // Padded rows / columns hold sin of angles ~1e6 (offset / eps): equal angles, equal values.
        expectClose(got, ref, 1e-6, `pos ${h}x${w}`);
        tf.dispose([m, got, ref]);
      }
      mask.dispose();
    });
  }
});

describe('get_sine_pos_embed without unstack', () => {
  it('has the analytic gradient d/dp sin(2 pi p / dim_t) = 2 pi / dim_t cos(.), with x/y exchanged', () => {
    const f = 8;
    const p = tf.tensor2d([0.1, 0.7, 0.3, 0.25, 0.9, 0.05, 0.6, 0.5], [2, 4]);
    const r = tf.randomNormal([2, 4 * f], 0, 1, 'float32', 3);
    const grad = tf.grad((x: tf.Tensor) => getSinePosEmbed(x, { num_pos_feats: f, temperature: 20 }).mul(r).sum())(p);
    const dimT = sineDimT(f, 20);
    const pv = p.dataSync();
    const rv = r.dataSync();
    const expected = new Float64Array(8);
    for (let b = 0; b < 2; b++) {
      for (let n = 0; n < 4; n++) {
        const block = n === 0 ? 1 : n === 1 ? 0 : n; // output block of coordinate n (x and y exchanged)
        for (let c = 0; c < f; c++) {
          const a = (2 * Math.PI * pv[b * 4 + n]) / dimT[c];
          const d = c % 2 === 0 ? Math.cos(a) : -Math.sin(a);
          expected[b * 4 + n] += (rv[b * 4 * f + block * f + c] * d * 2 * Math.PI) / dimT[c];
        }
      }
    }
    expectClose(grad, expected, 1e-4, 'd sine embed / d pos');
    tf.dispose([p, r, grad]);
  });
});

/** detrex get_valid_ratio + get_reference_points as tensor ops. */
function referencePointsRef(shapes: [number, number][], masks: tf.Tensor3D[]): tf.Tensor {
  return tf.tidy(() => {
    const ratios = tf.stack(
      masks.map((m) => {
        const [b, h, w] = m.shape;
        const valid = tf.logicalNot(m).cast('float32');
        return tf.stack([valid.slice([0, 0, 0], [b, 1, w]).sum([1, 2]).div(w), valid.slice([0, 0, 0], [b, h, 1]).sum([1, 2]).div(h)], -1);
      }),
      1,
    ); // [B,L,2]
    const b = masks[0].shape[0];
    const per = shapes.map(([h, w], l) => {
      const refY = tf.broadcastTo(tf.range(0, h).add(0.5).reshape([1, h, 1]), [1, h, w]).reshape([1, h * w]);
      const refX = tf.broadcastTo(tf.range(0, w).add(0.5).reshape([1, 1, w]), [1, h, w]).reshape([1, h * w]);
      const rw = ratios.slice([0, l, 0], [b, 1, 1]).reshape([b, 1]);
      const rh = ratios.slice([0, l, 1], [b, 1, 1]).reshape([b, 1]);
      return tf.stack([refX.div(rw.mul(w)), refY.div(rh.mul(h))], -1);
    });
    return tf.concat(per, 1).expandDims(2).mul(ratios.expandDims(1));
  });
}

/** detrex gen_encoder_output_proposals as tensor ops. */
function proposalsRef(memory: tf.Tensor, flatMask: tf.Tensor, shapes: [number, number][]): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const [n, s] = memory.shape;
    const notMask = tf.logicalNot(flatMask).cast('float32');
    let cur = 0;
    const props = shapes.map(([h, w], lvl) => {
      const valid = notMask.slice([0, cur], [n, h * w]).reshape([n, h, w]);
      const vh = valid.slice([0, 0, 0], [n, h, 1]).sum([1, 2]).reshape([n, 1, 1]);
      const vw = valid.slice([0, 0, 0], [n, 1, w]).sum([1, 2]).reshape([n, 1, 1]);
      const gx = tf.broadcastTo(tf.range(0, w).reshape([1, 1, w]), [n, h, w]).add(0.5).div(vw);
      const gy = tf.broadcastTo(tf.range(0, h).reshape([1, h, 1]), [n, h, w]).add(0.5).div(vh);
      const side = tf.fill([n, h, w], Math.fround(0.05) * 2 ** lvl);
      cur += h * w;
      return tf.stack([gx, gy, side, side], -1).reshape([n, h * w, 4]);
    });
    const p = tf.concat(props, 1);
    const inside = tf.logicalAnd(p.greater(0.01), p.less(0.99)).cast('int32').min(-1, true).cast('bool');
    const drop = tf.logicalOr(flatMask.expandDims(-1), tf.logicalNot(inside));
    const logits = tf.log(p.div(tf.scalar(1).sub(p)));
    return [
      tf.where(tf.broadcastTo(drop, [n, s, 4]), tf.fill([n, s, 4], Infinity), logits),
      tf.where(tf.broadcastTo(drop, memory.shape), tf.zerosLike(memory), memory),
    ];
  });
}

describe('encoder constants from padded masks', () => {
  const mask = paddedMask(64, 64, VALID);
  const masks = LEVEL_SIZES.map((s) => interpolateMaskNearest(mask, s));
  const flat = tf.concat(masks.map((m) => m.reshape([3, -1])), 1);
  const s = LEVEL_SIZES.reduce((a, [h, w]) => a + h * w, 0);

  it('reference points equal the tensor-op formula', () => {
    const ratios = getValidRatios(masks);
    const got = encoderReferencePoints(LEVEL_SIZES, ratios);
    const ref = referencePointsRef(LEVEL_SIZES, masks);
    expect(got.shape).toEqual([3, s, 4, 2]);
    expectClose(got, ref, 0, 'reference points'); // same float32 op sequence: bit-identical
    tf.dispose([ratios, got, ref]);
  });

  it('proposals (+inf where padded or outside (0.01, 0.99)) and masked memory equal the tensor-op formula; memory gradient is zero where dropped', () => {
    const memory = tf.randomNormal([3, s, 6], 0, 1, 'float32', 5);
    const got = genEncoderOutputProposals(memory, flat, LEVEL_SIZES);
    const [refProps, refMem] = proposalsRef(memory, flat, LEVEL_SIZES);
    const props = got.outputProposals.dataSync();
    expect(props.some((v) => v === Infinity)).toBe(true);
    expect(props.some((v) => Number.isFinite(v))).toBe(true);
    expectClose(got.outputProposals, refProps, 1e-7, 'output_proposals');
    expectClose(got.maskedMemory, refMem, 0, 'masked memory');
    const g = tf.grad((m: tf.Tensor) => genEncoderOutputProposals(m, flat, LEVEL_SIZES).maskedMemory.sum())(memory);
    const dropped = tf.tidy(() => refProps.slice([0, 0, 0], [3, s, 1]).equal(Infinity).cast('float32'));
    expectExact(g, tf.tidy(() => tf.sub(1, dropped).mul(tf.onesLike(memory))), 'd masked memory / d memory');
    tf.dispose([memory, got.outputProposals, got.maskedMemory, refProps, refMem, g, dropped]);
  });

  it('rejects spatial shapes that do not cover the memory', () => {
    const memory = tf.zeros([3, s + 1, 2]);
    expect(() => genEncoderOutputProposals(memory, flat, LEVEL_SIZES)).toThrow(/spatial shapes hold/);
    memory.dispose();
  });
});

describe('MultiheadAttention masks as an additive bias', () => {
  it('equals softmax over the unblocked keys only (attn_mask and key_padding_mask together)', () => {
    const [b, nq, nk, e] = [2, 3, 4, 4];
    const mha = new MultiheadAttention({ embed_dim: e, num_heads: 1 });
    const q = tf.randomNormal([b, nq, e], 0, 1, 'float32', 1);
    const k = tf.randomNormal([b, nk, e], 0, 1, 'float32', 2);
    const attnMask = tf.tensor2d([[0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]], [nq, nk], 'bool');
    const kpm = tf.tensor2d([[0, 0, 0, 1], [0, 0, 0, 0]], [b, nk], 'bool');
    const out = mha.attn.forward(q, k, k, attnMask, kpm);
    // Reference: the same projections, blocked keys dropped from the softmax explicitly.
    const ref = tf.tidy(() => {
      const [wq, wk, wv] = tf.split(mha.attn.inProjWeight, 3, 1);
      const [bq, bk, bv] = tf.split(mha.attn.inProjBias, 3, 0);
      const qq = q.matMul(wq.expandDims(0).tile([b, 1, 1])).add(bq).div(Math.sqrt(e));
      const kk = k.matMul(wk.expandDims(0).tile([b, 1, 1])).add(bk);
      const vv = k.matMul(wv.expandDims(0).tile([b, 1, 1])).add(bv);
      const logits = qq.matMul(kk, false, true).arraySync() as number[][][];
      const am = attnMask.arraySync() as number[][];
      const km = kpm.arraySync() as number[][];
      const weights = logits.map((rows, bi) =>
        rows.map((row, i) => {
          const ex = row.map((v, j) => (am[i][j] || km[bi][j] ? 0 : Math.exp(v)));
          const z = ex.reduce((x, y) => x + y, 0);
          return ex.map((v) => v / z);
        }),
      );
      return mha.attn.outProj.forward(tf.tensor3d(weights).matMul(vv));
    });
    expectClose(out, ref, 1e-5, 'masked attention');
    tf.dispose([q, k, attnMask, kpm, out, ref]);
    mha.dispose();
  });
});
