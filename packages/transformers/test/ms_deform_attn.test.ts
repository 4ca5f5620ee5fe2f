// Multi-scale deformable attention against fixtures/parity/msda.safetensors (README section 7): the core
// (forward and the gradients to value, locations, weights) for both implementations, the module in
// the {init, rand} x {2-d, 4-d reference} cases with every gradient, detrex's init; plus finite-
// difference checks of the custom gradient against an independent float64 implementation.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RTOL, expectClose, fixtureRaw, fixtureTensor, loadFixture } from '@detr/core/testing';
import { MultiScaleDeformableAttention, msDeformAttnCore, msDeformAttnCoreAutodiff, msDeformAttnCoreGather, msDeformAttnCoreJs, type MsDeformAttnImpl, type MsDeformAttnTrace } from '../src/index';
import { MSDA_PARAMS, buildMsdaFixtureModule } from './msda_fixture';

const FILE = 'msda';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function spatialShapes(): [number, number][] {
  const raw = fixtureRaw(FILE, 'spatial_shapes');
  const v = Array.from(raw.data as BigInt64Array, Number);
  return Array.from({ length: v.length / 2 }, (_, i) => [v[2 * i], v[2 * i + 1]] as [number, number]);
}

const cores = { js: msDeformAttnCoreJs, gather: msDeformAttnCoreGather, autodiff: msDeformAttnCoreAutodiff };

describe('msDeformAttnCore (msda fixture, core/*)', () => {
  for (const [name, core] of Object.entries(cores)) {
    it(`${name}: forward and gradients of sum(output * upstream_grad)`, () => {
      const shapes = spatialShapes();
      expect(shapes).toEqual(loadFixture(FILE).config.spatial_shapes_hw);
      const value = fixtureTensor(FILE, 'core/value');
      const loc = fixtureTensor(FILE, 'core/sampling_locations');
      const attn = fixtureTensor(FILE, 'core/attention_weights');
      const up = fixtureTensor(FILE, 'core/upstream_grad');
      const out = core(value, shapes, loc, attn);
      expectClose(out, fixtureRaw(FILE, 'core/output'), RTOL.activation, `${name} core/output`);
      const grads = tf.grads((v, l, a) => core(v, shapes, l, a).mul(up).sum())([value, loc, attn]);
      expectClose(grads[0], fixtureRaw(FILE, 'core/grad_value'), RTOL.grad, `${name} core/grad_value`);
      expectClose(grads[1], fixtureRaw(FILE, 'core/grad_sampling_locations'), RTOL.grad, `${name} core/grad_sampling_locations`);
      expectClose(grads[2], fixtureRaw(FILE, 'core/grad_attention_weights'), RTOL.grad, `${name} core/grad_attention_weights`);
      tf.dispose([value, loc, attn, up, out, ...grads]);
    });
  }

  it('rejects inconsistent shapes with a clear error', () => {
    const v = tf.zeros([1, 10, 2, 4]);
    const loc = tf.zeros([1, 3, 2, 1, 2, 2]);
    const a = tf.zeros([1, 3, 2, 1, 2]);
    for (const impl of ['js', 'gather', 'autodiff'] as const) {
      expect(() => msDeformAttnCore(v, [[3, 3]], loc, a, impl)).toThrow(/hold 9 tokens but value has 10/);
      expect(() => msDeformAttnCore(v, [[2, 5]], loc, tf.zeros([1, 3, 2, 1, 3]), impl)).toThrow(/attention_weights/);
    }
    tf.dispose([v, loc, a]);
  });
});

describe('MultiScaleDeformableAttention module (msda fixture, mod/*)', () => {
  for (const [paramCase, refCase, core] of [['init', 'ref2d', 'js'], ['init', 'ref4d', 'gather'], ['rand', 'ref2d', 'gather'], ['rand', 'ref4d', 'js'], ['rand', 'ref4d', 'autodiff']] as const) {
    {
      it(`${paramCase}/${refCase} (${core} sampling): output, intermediates and every gradient`, () => {
        const prefix = `mod/${paramCase}/${refCase}`;
        const m = buildMsdaFixtureModule(paramCase, core);
        const query = tf.variable(fixtureTensor(FILE, 'mod/query'));
        const queryPos = tf.variable(fixtureTensor(FILE, 'mod/query_pos'));
        const value = tf.variable(fixtureTensor(FILE, 'mod/value'));
        const ref = tf.variable(fixtureTensor(FILE, `mod/reference_points_${refCase === 'ref2d' ? '2d' : '4d'}`));
        const mask = fixtureTensor(FILE, 'mod/key_padding_mask').cast('bool');
        const up = fixtureTensor(FILE, 'mod/upstream_grad');
        const args = { value, query_pos: queryPos, key_padding_mask: mask, reference_points: ref, spatial_shapes: spatialShapes() };

        const trace: Partial<MsDeformAttnTrace> = {};
        const out = m.forward(query, args, trace);
        expectClose(out, fixtureRaw(FILE, `${prefix}/output`), RTOL.activation, `${prefix}/output`);
        expectClose(trace.projected_value!, fixtureRaw(FILE, `${prefix}/projected_value`), RTOL.activation, `${prefix}/projected_value`);
        expectClose(trace.sampling_locations!, fixtureRaw(FILE, `${prefix}/sampling_locations`), RTOL.activation, `${prefix}/sampling_locations`);
        expectClose(trace.attention_weights!, fixtureRaw(FILE, `${prefix}/attention_weights`), RTOL.activation, `${prefix}/attention_weights`);
        expectClose(trace.core_output!, fixtureRaw(FILE, `${prefix}/core_output`), RTOL.activation, `${prefix}/core_output`);

        const params = m.namedParameters();
        const vars = [query, queryPos, value, ref, ...params.map(([, p]) => p.variable)];
        const { grads } = tf.variableGrads(() => m.forward(query, args).mul(up).sum() as tf.Scalar, vars);
        expectClose(grads[query.name], fixtureRaw(FILE, `${prefix}/grad_query`), RTOL.grad, `${prefix}/grad_query`);
        expectClose(grads[queryPos.name], fixtureRaw(FILE, `${prefix}/grad_query_pos`), RTOL.grad, `${prefix}/grad_query_pos`);
        expectClose(grads[value.name], fixtureRaw(FILE, `${prefix}/grad_value`), RTOL.grad, `${prefix}/grad_value`);
        expectClose(grads[ref.name], fixtureRaw(FILE, `${prefix}/grad_reference_points`), RTOL.grad, `${prefix}/grad_reference_points`);
        expect(params.map(([n]) => n).sort()).toEqual([...MSDA_PARAMS].sort());
        for (const [name, p] of params) {
          const g = grads[p.variable.name];
          const torchLayout = p.layout === 'linear' ? g.transpose() : g; // ours [in,out] -> torch [out,in]
          expectClose(torchLayout, fixtureRaw(FILE, `${prefix}/grad_param/${name}`), RTOL.grad, `${prefix}/grad_param/${name}`);
        }
        tf.dispose([out, ...Object.values(trace), ...Object.values(grads), query, queryPos, value, ref, mask, up]);
        m.dispose();
      });
    }
  }

  it("detrex's init_weights: offset bias directions, zero weights, xavier projections with zero bias", () => {
    const cfg = loadFixture(FILE).config;
    const m = new MultiScaleDeformableAttention({ embed_dim: cfg.embed_dim, num_heads: cfg.num_heads, num_levels: cfg.num_levels, num_points: cfg.num_points });
    const sd = m.stateDict('torch');
    for (const k of ['sampling_offsets.weight', 'sampling_offsets.bias', 'attention_weights.weight', 'attention_weights.bias', 'value_proj.bias', 'output_proj.bias']) {
      expectClose(sd.get(k)!, fixtureRaw(FILE, `mod/init/param/${k}`), RTOL.activation, `init ${k}`);
    }
    // xavier_uniform bound sqrt(6 / (32 + 32)) for the 32x32 projections.
    const bound = Math.sqrt(6 / 64);
    for (const k of ['value_proj.weight', 'output_proj.weight']) {
      const v = sd.get(k)!.dataSync();
      expect(Math.max(...Array.from(v, Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...Array.from(v, Math.abs))).toBeGreaterThan(bound * 0.8);
    }
    tf.dispose([...sd.values()]);
    m.dispose();
  });
});

// ---- finite differences against an independent float64 implementation ------------------------------

/** float64 reference of the core formula (README section 7), row-major arrays. */
function coreRef64(value: Float64Array, shapes: [number, number][], loc: Float64Array, attn: Float64Array, b: number, nq: number, heads: number, d: number, points: number): Float64Array {
  const levels = shapes.length;
  const nv = shapes.reduce((s, [h, w]) => s + h * w, 0);
  const out = new Float64Array(b * nq * heads * d);
  for (let bi = 0; bi < b; bi++) for (let q = 0; q < nq; q++) for (let h = 0; h < heads; h++) {
    let start = 0;
    for (let l = 0; l < levels; l++) {
      const [H, W] = shapes[l];
      for (let p = 0; p < points; p++) {
        const li = ((((bi * nq + q) * heads + h) * levels + l) * points + p);
        const x = loc[li * 2] * W - 0.5;
        const y = loc[li * 2 + 1] * H - 0.5;
        const a = attn[li];
        const x0 = Math.floor(x), y0 = Math.floor(y);
        const fx = x - x0, fy = y - y0;
        const corners: [number, number, number][] = [[x0, y0, (1 - fx) * (1 - fy)], [x0 + 1, y0, fx * (1 - fy)], [x0, y0 + 1, (1 - fx) * fy], [x0 + 1, y0 + 1, fx * fy]];
        for (const [cx, cy, w] of corners) {
          if (cx < 0 || cx > W - 1 || cy < 0 || cy > H - 1) continue;
          const tok = start + cy * W + cx;
          for (let c = 0; c < d; c++) out[((bi * nq + q) * heads + h) * d + c] += a * w * value[((bi * nv + tok) * heads + h) * d + c];
        }
      }
      start += H * W;
    }
  }
  return out;
}

describe('msDeformAttnCore gradients against finite differences of a float64 reference', () => {
  for (const impl of ['js', 'gather'] as const) it(`${impl}: d value, d locations, d attention weights (every element)`, () => {
    const shapes: [number, number][] = [[4, 5], [2, 3]];
    const [b, nq, heads, d, points] = [2, 3, 2, 3, 2];
    const nv = 26;
    const levels = shapes.length;
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const value = Float64Array.from({ length: b * nv * heads * d }, () => rand() * 2 - 1);
    // Locations in [-0.2, 1.2] so corners fall outside the maps; keep away from pixel boundaries
    // (fractional parts in [0.05, 0.95]) so the central difference stays on one bilinear piece.
    const loc = new Float64Array(b * nq * heads * levels * points * 2);
    for (let i = 0; i < loc.length; i++) {
      const l = Math.floor(i / (points * 2)) % levels;
      const size = i % 2 === 0 ? shapes[l][1] : shapes[l][0];
      const pixel = Math.floor(rand() * (size + 2)) - 1 + 0.05 + 0.9 * rand(); // in [-1, size+1) px
      loc[i] = (pixel + 0.5) / size;
    }
    const attn = Float64Array.from({ length: b * nq * heads * levels * points }, () => rand());
    const up = Float64Array.from({ length: b * nq * heads * d }, () => rand() * 2 - 1);
    const objective = (v: Float64Array, lo: Float64Array, a: Float64Array) => coreRef64(v, shapes, lo, a, b, nq, heads, d, points).reduce((s, o, i) => s + o * up[i], 0);

    const tv = tf.tensor(Float32Array.from(value), [b, nv, heads, d]);
    const tl = tf.tensor(Float32Array.from(loc), [b, nq, heads, levels, points, 2]);
    const ta = tf.tensor(Float32Array.from(attn), [b, nq, heads, levels, points]);
    const tu = tf.tensor(Float32Array.from(up), [b, nq, heads * d]);
    const out = msDeformAttnCore(tv, shapes, tl, ta, impl);
    expectClose(out, coreRef64(value, shapes, loc, attn, b, nq, heads, d, points), RTOL.activation, 'forward vs float64 reference');
    const grads = tf.grads((v, l, a) => msDeformAttnCore(v, shapes, l, a, impl).mul(tu).sum())([tv, tl, ta]);

    const fd = (arr: Float64Array, which: number) => {
      const eps = 1e-6;
      return Float64Array.from(arr, (x, i) => {
        const plus = arr.slice(); plus[i] = x + eps;
        const minus = arr.slice(); minus[i] = x - eps;
        const args = (t: Float64Array): [Float64Array, Float64Array, Float64Array] => (which === 0 ? [t, loc, attn] : which === 1 ? [value, t, attn] : [value, loc, t]);
        return (objective(...args(plus)) - objective(...args(minus))) / (2 * eps);
      });
    };
    expectClose(grads[0], fd(value, 0), RTOL.grad, 'd value vs finite differences');
    expectClose(grads[1], fd(loc, 1), RTOL.grad, 'd locations vs finite differences');
    expectClose(grads[2], fd(attn, 2), RTOL.grad, 'd attention weights vs finite differences');
    // The sampling really exercised zero padding: some corners fell outside.
    const outside = Array.from(loc).some((v) => v < 0.5 / 5 || v > 1 - 0.5 / 5);
    expect(outside).toBe(true);
    tf.dispose([tv, tl, ta, tu, out, ...grads]);
  });
});
