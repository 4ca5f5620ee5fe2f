/**
 * Multi-scale deformable attention against fixtures/parity/msda.safetensors (README section 7) on the
 * wasm backend: the core (forward and gradients to value, locations and weights) for every
 * implementation including 'auto' (what the models use), and the module in the {init, rand} x
 * {2-d, 4-d reference} cases with intermediates and every gradient: the comparisons of
 * ms_deform_attn.test.ts (cpu), written here against the public API and the fixture.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadroomLog, RTOL, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend } from '@detr/core/testing';
import { MultiScaleDeformableAttention, msDeformAttnCore, type MsDeformAttnImpl, type MsDeformAttnTrace } from '../src/index';
import { MSDA_PARAMS, buildMsdaFixtureModule } from './msda_fixture';

const FILE = 'msda';
const log = new HeadroomLog(FILE, 'wasm');
const close = log.close;

beforeAll(async () => {
  await useTestBackend('wasm');
});

afterAll(() => reportHeadroom(log));

function spatialShapes(): [number, number][] {
  const v = Array.from(fixtureRaw(FILE, 'spatial_shapes').data as BigInt64Array, Number);
  return Array.from({ length: v.length / 2 }, (_, i) => [v[2 * i], v[2 * i + 1]] as [number, number]);
}

describe('msDeformAttnCore (msda core/*), wasm backend', () => {
  for (const impl of ['auto', 'js', 'gather', 'autodiff'] as const) {
    it(`${impl}: forward and gradients of sum(output * upstream_grad)`, () => {
      expect(tf.getBackend()).toBe('wasm');
      const shapes = spatialShapes();
      expect(shapes).toEqual(loadFixture(FILE).config.spatial_shapes_hw);
      const [value, loc, attn, up] = ['core/value', 'core/sampling_locations', 'core/attention_weights', 'core/upstream_grad'].map((k) => fixtureTensor(FILE, k));
      const out = msDeformAttnCore(value, shapes, loc, attn, impl);
      close(out, fixtureRaw(FILE, 'core/output'), RTOL.activation, `${impl} core/output`);
      const grads = tf.grads((v, l, a) => msDeformAttnCore(v, shapes, l, a, impl).mul(up).sum())([value, loc, attn]);
      close(grads[0], fixtureRaw(FILE, 'core/grad_value'), RTOL.grad, `${impl} core/grad_value`);
      close(grads[1], fixtureRaw(FILE, 'core/grad_sampling_locations'), RTOL.grad, `${impl} core/grad_sampling_locations`);
      close(grads[2], fixtureRaw(FILE, 'core/grad_attention_weights'), RTOL.grad, `${impl} core/grad_attention_weights`);
      tf.dispose([value, loc, attn, up, out, ...grads]);
    });
  }
});

describe('MultiScaleDeformableAttention module (msda mod/*), wasm backend', () => {
  const cases: [string, string, MsDeformAttnImpl][] = [
    ['init', 'ref2d', 'auto'], ['init', 'ref4d', 'auto'], ['rand', 'ref2d', 'auto'], ['rand', 'ref4d', 'auto'],
    ['init', 'ref2d', 'js'], ['init', 'ref4d', 'gather'], ['rand', 'ref2d', 'gather'], ['rand', 'ref4d', 'js'], ['rand', 'ref4d', 'autodiff'],
  ];
  for (const [paramCase, refCase, core] of cases) {
    it(`${paramCase}/${refCase} (${core} sampling): output, intermediates and every gradient`, () => {
      const prefix = `mod/${paramCase}/${refCase}`;
      const m = buildMsdaFixtureModule(paramCase, core);
      const query = tf.variable(fixtureTensor(FILE, 'mod/query'));
      const queryPos = tf.variable(fixtureTensor(FILE, 'mod/query_pos'));
      const value = tf.variable(fixtureTensor(FILE, 'mod/value'));
      const ref = tf.variable(fixtureTensor(FILE, `mod/reference_points_${refCase === 'ref2d' ? '2d' : '4d'}`));
      const mask = tf.tidy(() => fixtureTensor(FILE, 'mod/key_padding_mask').cast('bool'));
      const up = fixtureTensor(FILE, 'mod/upstream_grad');
      const args = { value, query_pos: queryPos, key_padding_mask: mask, reference_points: ref, spatial_shapes: spatialShapes() };

      const trace: Partial<MsDeformAttnTrace> = {};
      const out = m.forward(query, args, trace);
      close(out, fixtureRaw(FILE, `${prefix}/output`), RTOL.activation, `${prefix}/output (${core})`);
      for (const name of ['projected_value', 'sampling_locations', 'attention_weights', 'core_output'] as const) {
        close(trace[name]!, fixtureRaw(FILE, `${prefix}/${name}`), RTOL.activation, `${prefix}/${name} (${core})`);
      }

      const params = m.namedParameters();
      const vars = [query, queryPos, value, ref, ...params.map(([, p]) => p.variable)];
      const { value: loss, grads } = tf.variableGrads(() => m.forward(query, args).mul(up).sum() as tf.Scalar, vars);
      close(grads[query.name], fixtureRaw(FILE, `${prefix}/grad_query`), RTOL.grad, `${prefix}/grad_query (${core})`);
      close(grads[queryPos.name], fixtureRaw(FILE, `${prefix}/grad_query_pos`), RTOL.grad, `${prefix}/grad_query_pos (${core})`);
      close(grads[value.name], fixtureRaw(FILE, `${prefix}/grad_value`), RTOL.grad, `${prefix}/grad_value (${core})`);
      close(grads[ref.name], fixtureRaw(FILE, `${prefix}/grad_reference_points`), RTOL.grad, `${prefix}/grad_reference_points (${core})`);
      expect(params.map(([n]) => n).sort()).toEqual([...MSDA_PARAMS].sort());
      for (const [name, p] of params) {
        const g = grads[p.variable.name];
        const torchLayout = tf.tidy(() => (p.layout === 'linear' ? g.transpose() : g.clone())); // ours [in,out] -> torch [out,in]
        close(torchLayout, fixtureRaw(FILE, `${prefix}/grad_param/${name}`), RTOL.grad, `${prefix}/grad_param/${name} (${core})`);
        torchLayout.dispose();
      }
      tf.dispose([out, loss, ...Object.values(trace), ...Object.values(grads), query, queryPos, value, ref, mask, up]);
      m.dispose();
    });
  }
});
