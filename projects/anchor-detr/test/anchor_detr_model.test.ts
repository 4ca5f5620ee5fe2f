// Anchor DETR model structure and numerics against float64 references written from the official code
// (megvii-research/AnchorDETR models/transformer.py): mask2pos, pos2posemb1d/2d, the grid prior, what each
// RCDA / self-attention receives (anchor-point and row/column position embeddings), the shared heads,
// and the official state-dict keys (with the backbone key map).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Module, Rng } from '@detr/core';
import { ResNet } from '@detr/backbones';
import { RTOL, expectClose } from '@detr/core/testing';
import { AnchorDETR, gridAnchorPoints, maskToPositions, officialAnchorDetrKeys, posEmbed1d, posEmbed2d } from '../src/index';
import type { RCDAInputs } from '../src/rcda_parts';
import { CLASSES, D_MODEL, PATTERNS, POSITIONS, tinyAnchor, tinyBatch, tinyTransformer } from './tiny_anchor';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Official pos2posemb1d for one value: channel i = sin/cos(p*2pi / 10000^(2 floor(i/2) / F)). */
function sine1d(p: number, f: number): number[] {
  return range(f).map((i) => {
    const a = (p * 2 * Math.PI) / Math.pow(10000, (2 * Math.floor(i / 2)) / f);
    return i % 2 === 0 ? Math.sin(a) : Math.cos(a);
  });
}

/** Official mask2pos for one image: mask[y][x] (1 = padding) -> x positions [W], y positions [H]. */
function mask2pos(mask: number[][]): { row: number[]; col: number[] } {
  const cum = (xs: number[]) => xs.reduce<number[]>((acc, v) => [...acc, (acc.at(-1) ?? 0) + v], []);
  const x = cum(mask[0].map((m) => 1 - m));
  const y = cum(mask.map((r) => 1 - r[0]));
  return { row: x.map((v) => (v - 0.5) / x.at(-1)!), col: y.map((v) => (v - 0.5) / y.at(-1)!) };
}

describe('Anchor DETR positions', () => {
  it('maskToPositions, posEmbed1d and posEmbed2d match mask2pos / pos2posemb1d / pos2posemb2d', () => {
    const mask = [
      [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
      [[0, 0, 0, 1, 1], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1]],
    ];
    const { posRow, posCol } = maskToPositions(tf.tensor3d(mask, [2, 3, 5], 'bool'));
    const ref = mask.map(mask2pos);
    expectClose(posRow, ref.flatMap((r) => r.row), 1e-6, 'x positions');
    expectClose(posCol, ref.flatMap((r) => r.col), 1e-6, 'y positions');
    const pts = [[0.1, 0.7], [0.95, 0.02]];
    const e1 = posEmbed1d(tf.tensor1d([0.1, 0.95]), 16);
    expectClose(e1, [...sine1d(0.1, 16), ...sine1d(0.95, 16)], 1e-5, 'pos2posemb1d');
    const e2 = posEmbed2d(tf.tensor2d(pts), 8);
    expectClose(e2, pts.flatMap(([x, y]) => [...sine1d(y, 8), ...sine1d(x, 8)]), 1e-5, 'pos2posemb2d = [emb(y), emb(x)]');
    tf.dispose([posRow, posCol, e1, e2]);
  });

  it('the grid prior puts round(sqrt(n))^2 points at cell centres, x-major as torch.meshgrid', () => {
    const { points, count } = gridAnchorPoints(9);
    expect(count).toBe(9);
    const c = [1 / 6, 0.5, 5 / 6];
    expectClose(points, c.flatMap((x) => c.flatMap((y) => [x, y])), 1e-7, 'grid 3x3');
    expect(gridAnchorPoints(300).count).toBe(289); // upstream's 300 positions become 17 x 17
    const grid = tinyTransformer({ spatial_prior: 'grid', num_query_position: 4 });
    expect(grid.position).toBeNull();
    expect([...grid.stateDictShapes().keys()].some((k) => k.startsWith('position'))).toBe(false);
    grid.dispose();
  });
});

// ------------------------------------------------------------------ official state-dict keys

const lin = (p: string) => [`${p}.weight`, `${p}.bias`];

/** Keys of the official model for this config, written from models/{anchor_detr,transformer,backbone}.py. */
function officialKeys(enc: number, dec: number, resnet18Backbone: boolean): string[] {
  const keys: string[] = [];
  const ffn = (p: string) => [...lin(`${p}.ffn.linear1`), ...lin(`${p}.ffn.linear2`), ...lin(`${p}.ffn.norm2`)];
  const mha = (p: string) => [`${p}.in_proj_weight`, `${p}.in_proj_bias`, ...lin(`${p}.out_proj`)];
  for (const i of range(enc)) keys.push(...mha(`transformer.encoder_layers.${i}.self_attn`), ...lin(`transformer.encoder_layers.${i}.norm1`), ...ffn(`transformer.encoder_layers.${i}`));
  for (const i of range(dec)) {
    const p = `transformer.decoder_layers.${i}`;
    keys.push(...mha(`${p}.cross_attn`), ...lin(`${p}.norm1`), ...mha(`${p}.self_attn`), ...lin(`${p}.norm2`), ...ffn(p));
  }
  keys.push('transformer.pattern.weight', 'transformer.position.weight');
  keys.push(...lin('transformer.adapt_pos2d.0'), ...lin('transformer.adapt_pos2d.2'), ...lin('transformer.adapt_pos1d.0'), ...lin('transformer.adapt_pos1d.2'));
  for (const i of range(dec)) keys.push(...lin(`transformer.class_embed.${i}`));
  for (const i of range(dec)) for (const l of range(3)) keys.push(...lin(`transformer.bbox_embed.${i}.layers.${l}`));
  keys.push(...lin('input_proj.0.0'), ...lin('input_proj.0.1'));
  if (resnet18Backbone) {
    // torchvision resnet18 with DETR's FrozenBatchNorm2d (buffers weight, bias, running_mean, running_var).
    const bn = (p: string) => ['weight', 'bias', 'running_mean', 'running_var'].map((f) => `backbone.0.body.${p}.${f}`);
    keys.push('backbone.0.body.conv1.weight', ...bn('bn1'));
    for (const layer of [1, 2, 3, 4]) {
      for (const block of [0, 1]) {
        const p = `layer${layer}.${block}`;
        keys.push(`backbone.0.body.${p}.conv1.weight`, ...bn(`${p}.bn1`), `backbone.0.body.${p}.conv2.weight`, ...bn(`${p}.bn2`));
        if (layer > 1 && block === 0) keys.push(`backbone.0.body.${p}.downsample.0.weight`, ...bn(`${p}.downsample.1`));
      }
    }
  }
  return keys;
}

describe('Anchor DETR state dict', () => {
  it('has the official transformer / input_proj keys, heads listed once per decoder layer', () => {
    const model = tinyAnchor({ num_encoder_layers: 2, num_decoder_layers: 3 });
    const keys = [...model.stateDictShapes('torch').keys()].filter((k) => !k.startsWith('backbone.'));
    expect(keys.sort()).toEqual(officialKeys(2, 3, false).sort());
    const shapes = model.stateDictShapes('torch');
    expect(shapes.get('transformer.decoder_layers.0.cross_attn.in_proj_weight')).toEqual([5 * D_MODEL, D_MODEL]);
    expect(shapes.get('transformer.decoder_layers.0.self_attn.in_proj_weight')).toEqual([3 * D_MODEL, D_MODEL]);
    expect(shapes.get('transformer.position.weight')).toEqual([POSITIONS, 2]);
    expect(shapes.get('transformer.pattern.weight')).toEqual([PATTERNS, D_MODEL]);
    expect(shapes.get('transformer.class_embed.2.weight')).toEqual([CLASSES, D_MODEL]);
    expect(shapes.get('input_proj.0.0.weight')).toEqual([D_MODEL, 24, 1, 1]);
    model.dispose();
  });

  it('maps an official checkpoint key set (torchvision backbone under backbone.0.body) onto the port exactly', () => {
    const transformer = tinyTransformer();
    const base = tinyAnchor();
    const model = new AnchorDETR({
      backbone: new ResNet({ depth: 18, out_features: ['res5'], freeze_at: 2 }),
      in_channels: 512,
      transformer,
      num_classes: CLASSES,
      criterion: base.criterion,
    });
    const official = new Map(officialKeys(1, 2, true).map((k) => [k, k]));
    official.set('backbone.0.body.bn1.num_batches_tracked', 'dropped');
    const mapped = officialAnchorDetrKeys(official);
    expect([...mapped.keys()].sort()).toEqual([...model.stateDictShapes('torch').keys()].sort());
    expect(mapped.get('backbone.res2.0.conv1.norm.running_mean')).toBe('backbone.0.body.layer1.0.bn1.running_mean');
    expect(mapped.get('backbone.stem.conv1.weight')).toBe('backbone.0.body.conv1.weight');
    model.dispose();
    base.dispose();
  });

  it('rejects a class-count mismatch and the unimplemented variants by name', () => {
    expect(() => tinyTransformer({ num_feature_levels: 4 })).toThrow(/num_feature_levels/);
    expect(() => tinyTransformer({ attention_type: 'nn.MultiheadAttention' as never })).toThrow(/attention_type/);
    const t = tinyTransformer({ num_classes: 91 });
    const base = tinyAnchor();
    expect(() => new AnchorDETR({ backbone: base.backbone, transformer: t, num_classes: CLASSES, criterion: base.criterion })).toThrow(/num_classes 3 differs/);
  });
});

// ------------------------------------------------------------------ wiring of the attentions

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

/** Sequential(Linear, ReLU, Linear) with keys 0 / 2. */
const adapterRef = (x: number[], w: Weights, p: string) => linearRef(linearRef(x, w, `${p}.0`).map((v) => Math.max(v, 0)), w, `${p}.2`);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const invSigmoid = (x: number) => {
  const c = Math.min(Math.max(x, 0), 1);
  return Math.log(Math.max(c, 1e-5) / Math.max(1 - c, 1e-5)); // upstream eps 1e-5
};
const row = (values: ArrayLike<number>, r: number, c: number) => Array.from(values).slice(r * c, (r + 1) * c);

describe('Anchor DETR attention inputs and heads against the official formulas', () => {
  const model = tinyAnchor();
  const rng = new Rng(4);
  // Non-zero box head and positions spread out, so the head composition is exercised.
  for (const [, p] of model.transformer.boxHead.namedParameters()) p.variable.assign(tf.tensor(rng.normalArray(p.variable.size, 0, 0.3), p.variable.shape));
  const w = torchWeights(model);
  const tr = model.transformer;
  const rcdaCalls: Record<string, number[]>[] = [];
  const selfCalls: number[][][] = [];
  const decoderStates: Float32Array[] = [];
  const snap = (t: tf.Tensor) => Array.from(t.dataSync());
  const spyRcda = (attn: { forward: (i: RCDAInputs) => tf.Tensor }) => {
    const orig = attn.forward.bind(attn);
    attn.forward = (i: RCDAInputs) => {
      rcdaCalls.push({ query_row: snap(i.query_row), query_col: snap(i.query_col), key_row: snap(i.key_row), key_col: snap(i.key_col), value: snap(i.value) });
      return orig(i);
    };
  };
  for (const layer of tr.encoder_layers) spyRcda(layer.self_attn);
  for (const layer of tr.decoder_layers) {
    spyRcda(layer.cross_attn);
    const orig = layer.self_attn.forward.bind(layer.self_attn);
    layer.self_attn.forward = (q, k, v, ...rest) => {
      selfCalls.push([snap(q), snap(k), snap(v)]);
      return orig(q, k, v, ...rest);
    };
  }
  const origHead = tr.classHead.forward.bind(tr.classHead);
  tr.classHead.forward = (x) => {
    decoderStates.push(x.dataSync() as Float32Array);
    return origHead(x);
  };
  const batch = tinyBatch(2);
  const outputs = model.forward(batch);
  const B = 2;
  const C = D_MODEL;
  const Q = PATTERNS * POSITIONS;
  const h = 4; // 32x32 input, stride 8
  const wd = 4;
  const maskRows = batch.masks.arraySync() as unknown as number[][][];
  // The feature-level mask: nearest down-sampling of the image mask by 8 (rows / columns 0, 8, 16, 24).
  const featMask = maskRows.map((m) => range(h).map((y) => range(wd).map((x) => (m[y * 8][x * 8] ? 1 : 0))));
  const anchors = w.get('transformer.position.weight')!.v;
  const ref = range(Q).map((q) => row(anchors, q % POSITIONS, 2)); // pattern-major queries

  afterAll(() => {
    tf.dispose([outputs.pred_logits, outputs.pred_boxes, ...(outputs.aux_outputs ?? []).flatMap((o) => [o.pred_logits, o.pred_boxes]), batch.images, batch.masks]);
    model.dispose();
  });

  /** pos_row [B][W][C], pos_col [B][H][C] = adapt_pos1d(pos2posemb1d(mask2pos)). */
  function rowColumnEmbeddings() {
    return featMask.map((m) => {
      const { row: xs, col: ys } = mask2pos(m);
      return { row: xs.map((x) => adapterRef(sine1d(x, C), w, 'transformer.adapt_pos1d')), col: ys.map((y) => adapterRef(sine1d(y, C), w, 'transformer.adapt_pos1d')) };
    });
  }

  it('encoder RCDA: q/k_row = src + pos_row(x), q/k_col = src + pos_col(y), v = src', () => {
    const pos = rowColumnEmbeddings();
    const call = rcdaCalls[0];
    const src = call.value; // [B,H,W,C]
    const withRow: number[] = [];
    const withCol: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < wd; x++) {
          const s = row(src, (b * h + y) * wd + x, C);
          withRow.push(...s.map((v, c) => v + pos[b].row[x][c]));
          withCol.push(...s.map((v, c) => v + pos[b].col[y][c]));
        }
      }
    }
    for (const [name, refValues] of [['query_row', withRow], ['key_row', withRow], ['query_col', withCol], ['key_col', withCol]] as const) {
      expectClose(call[name], refValues, RTOL.loss, `encoder ${name}`);
    }
  });

  it('decoder: self-attention q = k = tgt + adapt_pos2d(pos2posemb2d(anchor)); RCDA queries add adapt_pos1d of x / y', () => {
    const pos = rowColumnEmbeddings();
    const pattern = w.get('transformer.pattern.weight')!.v;
    tr.decoder_layers.toArray().forEach((_, l) => {
      const [q, k, v] = selfCalls[l];
      const tgt = l === 0 ? range(B).flatMap(() => range(Q).flatMap((i) => row(pattern, Math.floor(i / POSITIONS), C))) : Array.from(decoderStates[l - 1]);
      expectClose(v, tgt, 1e-6, `layer ${l} self-attention value = tgt (pattern-major patterns in layer 0)`);
      const qp = range(B).flatMap(() => ref.flatMap(([x, y]) => adapterRef([...sine1d(y, C / 2), ...sine1d(x, C / 2)], w, 'transformer.adapt_pos2d')));
      expectClose(q, tgt.map((t, i) => t + qp[i]), RTOL.loss, `layer ${l} self-attention query`);
      expectClose(k, q, 0, `layer ${l} self-attention key = query`);
      const cross = rcdaCalls[tr.encoder_layers.length + l];
      // The RCDA query = self-attention block output + position; recover that output from the row query.
      const px = range(B).flatMap(() => ref.flatMap(([x]) => adapterRef(sine1d(x, C), w, 'transformer.adapt_pos1d')));
      const py = range(B).flatMap(() => ref.flatMap(([, y]) => adapterRef(sine1d(y, C), w, 'transformer.adapt_pos1d')));
      const base = cross.query_row.map((v, i) => v - px[i]);
      expectClose(cross.query_col, base.map((v, i) => v + py[i]), RTOL.loss, `layer ${l} RCDA query_col - query_row = pos(y) - pos(x)`);
      // Keys: memory + row / column embeddings of the feature map.
      const mem = cross.value;
      const kr: number[] = [];
      const kc: number[] = [];
      for (let b = 0; b < B; b++) for (let y = 0; y < h; y++) for (let x = 0; x < wd; x++) {
        const s = row(mem, (b * h + y) * wd + x, C);
        kr.push(...s.map((vv, c) => vv + pos[b].row[x][c]));
        kc.push(...s.map((vv, c) => vv + pos[b].col[y][c]));
      }
      expectClose(cross.key_row, kr, RTOL.loss, `layer ${l} RCDA key_row`);
      expectClose(cross.key_col, kc, RTOL.loss, `layer ${l} RCDA key_col`);
    });
  });

  it('predicts with the shared heads: boxes = sigmoid(bbox_embed(h) + [inverse_sigmoid(anchor), 0, 0])', () => {
    const perLayer = [...(outputs.aux_outputs ?? []), { pred_logits: outputs.pred_logits, pred_boxes: outputs.pred_boxes }];
    expect(perLayer.length).toBe(2);
    expect(outputs.pred_boxes.shape).toEqual([B, Q, 4]);
    perLayer.forEach((out, l) => {
      const logits: number[] = [];
      const boxes: number[] = [];
      for (let n = 0; n < B * Q; n++) {
        const s = row(decoderStates[l], n, C);
        logits.push(...linearRef(s, w, 'transformer.class_embed.0'));
        let hdn = s;
        for (const i of [0, 1, 2]) {
          hdn = linearRef(hdn, w, `transformer.bbox_embed.0.layers.${i}`);
          if (i < 2) hdn = hdn.map((v) => Math.max(v, 0));
        }
        const [x, y] = ref[n % Q];
        boxes.push(sigmoid(hdn[0] + invSigmoid(x)), sigmoid(hdn[1] + invSigmoid(y)), sigmoid(hdn[2]), sigmoid(hdn[3]));
      }
      expectClose(out.pred_logits, logits, RTOL.loss, `layer ${l} logits`);
      expectClose(out.pred_boxes, boxes, RTOL.loss, `layer ${l} boxes`);
    });
  });
});
