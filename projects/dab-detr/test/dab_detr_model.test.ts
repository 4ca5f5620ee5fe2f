// DAB-DETR model structure and numerics: detrex state-dict keys, the decoder's anchor-driven positional
// queries (sine embedding, ref_point_head, query_scale, modulated h/w attention, box refinement) and
// the prediction heads, each against float64 references computed here from the detrex formulas.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayerNorm, type Module, Rng } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { BaseTransformerLayer, FFN, MultiheadAttention } from '@detr/transformers';
import { ConditionalTransformerLayer } from '../src/index';
import { CLASSES, EMBED, QUERIES, tinyBatch, tinyDab } from './tiny_dab';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const lin = (p: string) => [`${p}.weight`, `${p}.bias`];
const mlp = (p: string, n: number) => range(n).flatMap((i) => lin(`${p}.layers.${i}`));

/** detrex DAB-DETR state-dict keys (transformer and heads), from the module tree of dab_transformer.py / dab_detr.py. */
function expectedDetrexKeys(layers: number, patterns: boolean): string[] {
  const keys: string[] = [];
  const ffn = (p: string) => [...lin(`${p}.ffns.0.layers.0.0`), `${p}.ffns.0.layers.0.1.weight`, ...lin(`${p}.ffns.0.layers.1`)];
  for (const i of range(layers)) {
    const p = `transformer.encoder.layers.${i}`;
    keys.push(`${p}.attentions.0.attn.in_proj_weight`, `${p}.attentions.0.attn.in_proj_bias`, ...lin(`${p}.attentions.0.attn.out_proj`));
    keys.push(...ffn(p), ...lin(`${p}.norms.0`), ...lin(`${p}.norms.1`));
  }
  keys.push(...mlp('transformer.encoder.query_scale', 2));
  for (const i of range(layers)) {
    const p = `transformer.decoder.layers.${i}`;
    for (const n of ['query_content_proj', 'query_pos_proj', 'key_content_proj', 'key_pos_proj', 'value_proj', 'out_proj']) keys.push(...lin(`${p}.attentions.0.${n}`));
    const cross = ['query_content_proj', ...(i === 0 ? ['query_pos_proj'] : []), 'query_pos_sine_proj', 'key_content_proj', 'key_pos_proj', 'value_proj', 'out_proj'];
    for (const n of cross) keys.push(...lin(`${p}.attentions.1.${n}`));
    keys.push(...ffn(p), ...lin(`${p}.norms.0`), ...lin(`${p}.norms.1`), ...lin(`${p}.norms.2`));
  }
  keys.push(...mlp('transformer.decoder.query_scale', 2), ...mlp('transformer.decoder.ref_point_head', 2), ...mlp('transformer.decoder.ref_anchor_head', 2));
  keys.push(...lin('transformer.decoder.post_norm_layer'), ...mlp('transformer.decoder.bbox_embed', 3));
  if (patterns) keys.push('transformer.patterns.weight');
  keys.push(...lin('input_proj'), 'anchor_box_embed.weight', ...lin('class_embed'), ...mlp('bbox_embed', 3));
  return keys.sort();
}

describe('DAB-DETR state dict', () => {
  it('uses detrex key names (query_pos_proj only in decoder layer 0; bbox_embed tied under two names)', () => {
    const model = tinyDab({ layers: 3 });
    const shapes = model.stateDictShapes('torch');
    const keys = [...shapes.keys()].filter((k) => !k.startsWith('backbone.')).sort();
    expect(keys).toEqual(expectedDetrexKeys(3, false));
    expect(shapes.get('transformer.decoder.ref_point_head.layers.0.weight')).toEqual([EMBED, 2 * EMBED]);
    expect(shapes.get('transformer.decoder.ref_anchor_head.layers.1.weight')).toEqual([2, EMBED]);
    expect(shapes.get('anchor_box_embed.weight')).toEqual([QUERIES, 4]);
    expect(shapes.get('class_embed.weight')).toEqual([CLASSES, EMBED]);
    expect(shapes.get('input_proj.weight')).toEqual([EMBED, 24, 1, 1]);
    expect(model.transformer.decoder.bbox_embed).toBe(model.bbox_embed);
    // A torch-layout state dict loads back strictly by name.
    const sd = model.stateDict('torch');
    const other = tinyDab({ layers: 3 });
    expect(other.loadStateDict(sd, { strict: true, layout: 'torch' }).missing).toEqual([]);
    tf.dispose([...sd.values()]);
    model.dispose();
    other.dispose();
  });

  it('adds transformer.patterns.weight with num_patterns and makes P x Q queries', () => {
    const model = tinyDab({ layers: 2, num_patterns: 3 });
    const keys = [...model.stateDictShapes('torch').keys()].filter((k) => !k.startsWith('backbone.')).sort();
    expect(keys).toEqual(expectedDetrexKeys(2, true));
    const batch = tinyBatch();
    const out = model.forward(batch);
    expect(out.pred_logits.shape).toEqual([2, 3 * QUERIES, CLASSES]);
    expect(out.pred_boxes.shape).toEqual([2, 3 * QUERIES, 4]);
    expect(out.aux_outputs?.length).toBe(1);
    tf.dispose([out.pred_logits, out.pred_boxes, out.aux_outputs![0].pred_logits, out.aux_outputs![0].pred_boxes, batch.images, batch.masks]);
    model.dispose();
  });

  it('rejects unknown options and inconsistent sizes with the option named', () => {
    expect(() => tinyDab({ extra: { num_querys: 5 } as never })).toThrow(/unknown option "num_querys"/);
    expect(() => tinyDab({ extra: { embed_dim: 64 } })).toThrow(/embed_dim 64/);
  });
});

describe('ConditionalTransformerLayer', () => {
  it('runs operation_order exactly as BaseTransformerLayer (pre- and post-norm)', () => {
    for (const order of [
      ['self_attn', 'norm', 'cross_attn', 'norm', 'ffn', 'norm'],
      ['norm', 'self_attn', 'norm', 'cross_attn', 'norm', 'ffn'],
    ] as const) {
      const opts = {
        attn: () => new MultiheadAttention({ embed_dim: 8, num_heads: 2 }),
        ffn: () => new FFN({ embed_dim: 8, feedforward_dim: 16 }),
        norm: () => new LayerNorm(8),
        operation_order: [...order],
      };
      const base = new BaseTransformerLayer(opts);
      const rng = new Rng(3);
      const t = (...shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b)), shape);
      const args = { key: t(2, 5, 8), value: t(2, 5, 8), query_pos: t(2, 3, 8), key_pos: t(2, 5, 8), key_padding_mask: tf.tensor2d([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], [2, 5], 'bool') };
      const q = t(2, 3, 8);
      const expected = base.forward(q, args);
      const actual = ConditionalTransformerLayer.prototype.forward.call(base, q, args);
      expectClose(actual, expected, 0, `layer [${order}]`);
      tf.dispose([expected, actual, q, ...Object.values(args)]);
      base.dispose();
    }
  });
});

// ---------------------------------------------------------------- float64 references of the decoder

type Weights = Map<string, { v: Float64Array; shape: number[] }>;

function torchWeights(m: Module): Weights {
  const out: Weights = new Map();
  for (const [k, t] of m.stateDict('torch')) {
    out.set(k, { v: Float64Array.from(t.dataSync()), shape: [...t.shape] });
    t.dispose();
  }
  return out;
}

function linearRef(x: number[], w: Weights, p: string): number[] {
  const W = w.get(`${p}.weight`)!;
  const b = w.get(`${p}.bias`)!.v;
  const [o, i] = W.shape;
  return range(o).map((r) => x.reduce((s, xv, c) => s + W.v[r * i + c] * xv, b[r]));
}

function mlpRef(x: number[], w: Weights, p: string, n: number): number[] {
  let h = x;
  for (let l = 0; l < n; l++) {
    h = linearRef(h, w, `${p}.layers.${l}`);
    if (l < n - 1) h = h.map((v) => Math.max(v, 0));
  }
  return h;
}

function layerNormRef(x: number[], w: Weights, p: string): number[] {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  const g = w.get(`${p}.weight`)!.v;
  const b = w.get(`${p}.bias`)!.v;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * g[i] + b[i]);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** detrex inverse_sigmoid with eps 1e-3. */
const invSigmoid = (x: number) => {
  const c = Math.min(Math.max(x, 0), 1);
  return Math.log(Math.max(c, 1e-3) / Math.max(1 - c, 1e-3));
};

/** detrex get_sine_pos_embed(box): blocks [y, x, w, h], each F interleaved sin/cos of p*2pi/10000^(2floor(i/2)/F). */
function sineRef(box: number[], f: number): number[] {
  const block = (p: number) => range(f).map((i) => {
    const a = (p * 2 * Math.PI) / Math.pow(10000, (2 * Math.floor(i / 2)) / f);
    return i % 2 === 0 ? Math.sin(a) : Math.cos(a);
  });
  const [x, y, w, h] = box.map(block);
  return [...y, ...x, ...w, ...h];
}

/** Row r of a [N, C] flattening. */
const row = (values: ArrayLike<number>, r: number, c: number) => Array.from(values).slice(r * c, (r + 1) * c);

describe('DAB-DETR decoder and heads against the detrex formulas', () => {
  const model = tinyDab({ layers: 2 });
  const rng = new Rng(5);
  // Non-zero box and class heads, so the refinement and the head composition are exercised.
  for (const [, p] of model.bbox_embed.namedParameters()) p.variable.assign(tf.tensor(rng.normalArray(p.variable.size, 0, 0.3), p.variable.shape));
  const w = torchWeights(model);
  const dec = model.transformer.decoder;
  const layers = dec.layers.toArray();
  interface Call { query: tf.Tensor; query_pos?: tf.Tensor; sine?: tf.Tensor; kpm?: tf.Tensor | null; first?: boolean }
  const selfCalls: Call[] = [];
  const crossCalls: Call[] = [];
  const keep = (t: tf.Tensor | null | undefined) => (t ? tf.keep(t.clone()) : null);
  layers.forEach((layer) => {
    for (const [i, log] of [[0, selfCalls], [1, crossCalls]] as const) {
      const attn = layer.attentions.at(i) as unknown as Module & { forward: (q: tf.Tensor, a: Record<string, unknown>) => tf.Tensor };
      const orig = attn.forward.bind(attn);
      attn.forward = (q: tf.Tensor, a: Record<string, unknown>) => {
        log.push({ query: keep(q)!, query_pos: keep(a.query_pos as tf.Tensor)!, sine: keep(a.query_sine_embed as tf.Tensor)!, kpm: keep(a.key_padding_mask as tf.Tensor), first: a.is_first_layer as boolean });
        return orig(q, a);
      };
    }
  });
  const batch = tinyBatch(1);
  const transformerOut: { states: tf.Tensor[]; references: tf.Tensor[] } = { states: [], references: [] };
  const origTransformer = model.transformer.forward.bind(model.transformer);
  model.transformer.forward = (inputs) => {
    const out = origTransformer(inputs);
    transformerOut.states = out.states.map((t) => tf.keep(t.clone()));
    transformerOut.references = out.references.map((t) => tf.keep(t.clone()));
    return out;
  };
  const outputs = model.forward(batch);
  const B = 2;
  const C = EMBED;
  const F = C / 2;

  afterAll(() => {
    tf.dispose([...selfCalls, ...crossCalls].flatMap((c) => [c.query, c.query_pos, c.sine, c.kpm].filter((t): t is tf.Tensor => !!t)));
    tf.dispose([...transformerOut.states, ...transformerOut.references, batch.images, batch.masks]);
    model.dispose();
  });

  /** The reference boxes of every layer: sigmoid(anchor) then sigmoid(bbox_embed(out_l) + inverse_sigmoid(ref_l)). */
  function referenceBoxes(): number[][][][] {
    const anchors = w.get('anchor_box_embed.weight')!.v;
    const refs: number[][][][] = [range(B).map(() => range(QUERIES).map((q) => row(anchors, q, 4).map(sigmoid)))];
    for (let l = 1; l < layers.length; l++) {
      const out = selfCalls[l].query.dataSync(); // layer l's input = layer l-1's output [B,Q,C]
      refs.push(range(B).map((b) => range(QUERIES).map((q) => {
        const off = mlpRef(row(out, b * QUERIES + q, C), w, 'bbox_embed', 3);
        return off.map((o, k) => sigmoid(o + invSigmoid(refs[l - 1][b][q][k])));
      })));
    }
    return refs;
  }

  it('passes is_first_layer only to layer 0 and no key padding mask (detrex)', () => {
    expect(crossCalls.map((c) => c.first)).toEqual([true, false]);
    expect(crossCalls.every((c) => c.kpm === null)).toBe(true);
    // Layer 0's content queries are zeros (num_patterns = 0).
    expect(selfCalls[0].query.abs().max().dataSync()[0]).toBe(0);
  });

  it('query_pos = ref_point_head(sine(ref)) and query_sine_embed = modulated, scaled [y, x] sine', () => {
    const refs = referenceBoxes();
    layers.forEach((_, l) => {
      const h = selfCalls[l].query.dataSync();
      const posRef: number[] = [];
      const sineRef_: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let q = 0; q < QUERIES; q++) {
          const box = refs[l][b][q];
          const sine = sineRef(box, F);
          posRef.push(...mlpRef(sine, w, 'transformer.decoder.ref_point_head', 2));
          const hq = row(h, b * QUERIES + q, C);
          const scale = l === 0 ? Array<number>(C).fill(1) : mlpRef(hq, w, 'transformer.decoder.query_scale', 2);
          const hw = mlpRef(hq, w, 'transformer.decoder.ref_anchor_head', 2).map(sigmoid);
          // y half (0:F) modulated by hw_h / h, x half (F:C) by hw_w / w.
          sineRef_.push(...sine.slice(0, C).map((v, i) => v * scale[i] * (i < F ? hw[1] / box[3] : hw[0] / box[2])));
        }
      }
      expectClose(crossCalls[l].query_pos!, posRef, RTOL.loss, `layer ${l} query_pos`);
      expectClose(crossCalls[l].sine!, sineRef_, RTOL.loss, `layer ${l} query_sine_embed`);
    });
  });

  it('returns each layer input reference (refined by the shared bbox_embed) and the heads compose as detrex', () => {
    const refs = referenceBoxes();
    transformerOut.references.forEach((r, l) => expectClose(r, refs[l].flat(2), RTOL.loss, `reference ${l}`));
    const perLayer = [...(outputs.aux_outputs ?? []), { pred_logits: outputs.pred_logits, pred_boxes: outputs.pred_boxes }];
    expect(perLayer.length).toBe(layers.length);
    perLayer.forEach((out, l) => {
      const state = transformerOut.states[l].dataSync();
      const logits: number[] = [];
      const boxes: number[] = [];
      for (let n = 0; n < B * QUERIES; n++) {
        const s = row(state, n, C);
        logits.push(...linearRef(s, w, 'class_embed'));
        const off = mlpRef(s, w, 'bbox_embed', 3);
        boxes.push(...off.map((o, k) => sigmoid(invSigmoid(refs[l][Math.floor(n / QUERIES)][n % QUERIES][k]) + o)));
      }
      expectClose(out.pred_logits, logits, RTOL.loss, `layer ${l} pred_logits`);
      expectClose(out.pred_boxes, boxes, RTOL.loss, `layer ${l} pred_boxes`);
    });
    // The states are post_norm_layer(layer output): layer 0's output is layer 1's captured input.
    const out0 = selfCalls[1].query.dataSync();
    const normed = range(B * QUERIES).flatMap((n) => layerNormRef(row(out0, n, C), w, 'transformer.decoder.post_norm_layer'));
    expectClose(transformerOut.states[0], normed, RTOL.loss, 'state 0 = post_norm(layer 0 output)');
  });
});
