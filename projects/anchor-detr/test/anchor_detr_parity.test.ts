/**
 * Numeric parity of Anchor DETR with the official megvii-research/AnchorDETR code
 * (fixtures/parity/anchor_detr_tiny.*, fixtures/parity/README.md section 12; generator
 * tools/parity/anchor_detr_fixture.py).
 *
 * The official AnchorDETR (input_proj + RCDA Transformer + shared heads) at a tiny size with random
 * weights (the real torch.save file anchor_detr_tiny.pth, official key names, loaded by our .pth reader
 * through readWeightsFile) runs on a fixed backbone feature map: our backbone is a stub returning that
 * map. Checked, with the README section 2 tolerances:
 *  - each stage on the fixture's own inputs (mask downsampling, input_proj, mask2pos, position
 *    embeddings, each encoder layer, each decoder layer and its self-attention / RCDA parts, the heads),
 *    so a mismatch points at the first diverging part;
 *  - the chained AnchorDETR.forward: pred_logits / pred_boxes of every decoder layer;
 *  - RCDA alone with H > W (the other contraction order), with and without a padding mask;
 *  - gradients of a fixed scalar w.r.t. every parameter and the feature map.
 * On cpu, then wasm (one thread unless DETR_TEST_WASM_THREADS says otherwise).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Module, inverseSigmoid, toTorchLayout } from '@detr/core';
import { HeadroomLog, RTOL, expectExact, fixturePath, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
import { readWeightsFile, type Batch } from '@detr/engine';
import { interpolateMaskNearest } from '@detr/transformers';
import { AnchorDETR, AnchorDETRTransformer, maskToPositions, posEmbed1d, posEmbed2d, type RowColumnPositions } from '../src/index';

const FIXTURE = 'anchor_detr_tiny';
const PTH = fixturePath(`${FIXTURE}.pth`);
const ACT = RTOL.activation;

/** The stand-in backbone: returns the fixture's feature map (NHWC) as `res5`, whatever the images. */
class FeatureStub extends Module {
  feature: tf.Tensor4D | null = null;
  forward(): Record<string, tf.Tensor4D> {
    if (!this.feature) throw new Error('FeatureStub: no feature set');
    return { res5: this.feature.clone() };
  }
}

const nchwToNhwc = (t: tf.Tensor) => tf.tidy(() => t.transpose([0, 2, 3, 1]));
const nhwcToNchw = (t: tf.Tensor) => tf.tidy(() => t.transpose([0, 3, 1, 2]));

function buildModel(c: Record<string, any>, stub: FeatureStub): AnchorDETR { // eslint-disable-line @typescript-eslint/no-explicit-any
  const transformer = new AnchorDETRTransformer({
    num_classes: c.num_classes,
    d_model: c.d_model,
    nhead: c.nhead,
    num_encoder_layers: c.num_encoder_layers,
    num_decoder_layers: c.num_decoder_layers,
    dim_feedforward: c.dim_feedforward,
    dropout: c.dropout,
    num_query_position: c.num_query_position,
    num_query_pattern: c.num_query_pattern,
    spatial_prior: c.spatial_prior,
    attention_type: c.attention_type,
    num_feature_levels: c.num_feature_levels,
  });
  return new AnchorDETR({
    backbone: stub,
    transformer,
    num_classes: c.num_classes,
    in_features: ['res5'],
    in_channels: c.in_channels,
    aux_loss: c.aux_loss,
    criterion: { forward: () => ({}), weight_dict: {} },
  });
}

/**
 * The official state dict -> ours: the names are the same (AnchorDETR's `transformer.*`, `input_proj.0.{0,1}.*`;
 * the shared heads under `class_embed.{i}` / `bbox_embed.{i}` for every layer), so the map is the identity;
 * it is spelled out here so that a renaming shows up as a failing strict load.
 */
function officialToOurs(key: string): string {
  return key;
}

function describeParity(backend: TestBackend): void {
  describe(`Anchor DETR parity with the official code (${FIXTURE}), ${backend}`, () => {
    const log = new HeadroomLog(FIXTURE, backend);
    const close = log.close;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let c: Record<string, any>;
    let stub: FeatureStub;
    let model: AnchorDETR;
    let tr: AnchorDETRTransformer;
    let featureMask: tf.Tensor3D; // the fixture's [B,H,W] (bool)
    let pos: RowColumnPositions; // from the fixture
    let loadReport: { loaded: string[]; missing: string[]; unexpected: string[] };
    const f = (key: string) => fixtureTensor(FIXTURE, key);
    const ref = (key: string) => fixtureRaw(FIXTURE, key);

    beforeAll(async () => {
      await useTestBackend(backend);
      c = loadFixture(FIXTURE).config;
      stub = new FeatureStub();
      model = buildModel(c, stub).eval();
      tr = model.transformer;
      const { tensors, layout } = readWeightsFile(PTH);
      expect(layout).toBe('torch');
      const renamed = new Map([...tensors].map(([k, v]) => [officialToOurs(k), v]));
      loadReport = model.loadStateDict(renamed, { layout, strict: true });
      tf.dispose([...tensors.values()]);
      stub.feature = nchwToNhwc(f('feature')) as tf.Tensor4D;
      featureMask = tf.tidy(() => f('inter/feature_mask').cast('bool')) as tf.Tensor3D;
      pos = { posemb_row: f('inter/posemb_row'), posemb_col: f('inter/posemb_col') };
    });

    afterAll(() => {
      reportHeadroom(log);
      tf.dispose([featureMask, pos.posemb_row, pos.posemb_col]);
      if (stub.feature) stub.feature.dispose();
      model.dispose();
    });

    it('loads every official state-dict entry by name (strict), tied heads included', () => {
      expect(loadReport.missing).toEqual([]);
      expect(loadReport.unexpected).toEqual([]);
      expect(loadReport.loaded.length).toBe(90);
      expect(loadReport.loaded).toContain('transformer.class_embed.1.weight');
      expect(tr.numPosition * tr.numPattern).toBe(c.num_queries);
    });

    it('mask downsampling (F.interpolate nearest) and input_proj', () => {
      const imageMask = tf.tidy(() => f('image_mask').cast('bool')) as tf.Tensor3D;
      const down = interpolateMaskNearest(imageMask, [c.H, c.W]);
      expectExact(down.cast('int32'), ref('inter/feature_mask'), 'inter/feature_mask');
      const proj = tf.tidy(() => nhwcToNchw(model.input_proj.at(0).forward(stub.feature as tf.Tensor4D)));
      close(proj, ref('inter/src_proj'), ACT, 'inter/src_proj');
      tf.dispose([imageMask, down, proj]);
    });

    it('mask2pos and the adapted 1-d position embeddings', () => {
      const { posRow, posCol } = maskToPositions(featureMask);
      close(posRow, ref('inter/pos_row'), ACT, 'inter/pos_row');
      close(posCol, ref('inter/pos_col'), ACT, 'inter/pos_col');
      const row = tf.tidy(() => tr.adapt_pos1d.forward(posEmbed1d(posRow, c.pos2posemb1d_num_pos_feats)));
      const col = tf.tidy(() => tr.adapt_pos1d.forward(posEmbed1d(posCol, c.pos2posemb1d_num_pos_feats)));
      close(row, ref('inter/posemb_row'), ACT, 'inter/posemb_row');
      close(col, ref('inter/posemb_col'), ACT, 'inter/posemb_col');
      tf.dispose([posRow, posCol, row, col]);
    });

    it('each encoder layer on the fixture input', () => {
      for (let i = 0; i < c.num_encoder_layers; i++) {
        const input = nchwToNhwc(f(i === 0 ? 'inter/src_proj' : `inter/encoder_layer${i - 1}`)) as tf.Tensor4D;
        const out = tf.tidy(() => nhwcToNchw(tr.encoder_layers.at(i).forward(input, featureMask, pos)));
        close(out, ref(`inter/encoder_layer${i}`), ACT, `inter/encoder_layer${i}`);
        tf.dispose([input, out]);
      }
    });

    it('queries: reference points, patterns, query positions', () => {
      const b = c.B;
      const anchors = tr.anchorPoints();
      const refPts = tf.tidy(() => tf.tile(anchors.reshape([1, tr.numPosition, 2]), [b, tr.numPattern, 1]));
      close(refPts, ref('inter/reference_points'), ACT, 'inter/reference_points');
      const tgt = tf.tidy(() => tf.broadcastTo(tr.pattern.weight.reshape([1, tr.numPattern, 1, c.d_model]), [b, tr.numPattern, tr.numPosition, c.d_model]).reshape([b, -1, c.d_model]));
      close(tgt, ref('inter/tgt'), ACT, 'inter/tgt');
      const qp = tf.tidy(() => tr.adapt_pos2d.forward(posEmbed2d(refPts, c.pos2posemb2d_num_pos_feats)));
      close(qp, ref('inter/query_pos'), ACT, 'inter/query_pos');
      const [x, y] = tf.unstack(refPts, -1);
      const qx = tf.tidy(() => tr.adapt_pos1d.forward(posEmbed1d(x, c.pos2posemb1d_num_pos_feats)));
      const qy = tf.tidy(() => tr.adapt_pos1d.forward(posEmbed1d(y, c.pos2posemb1d_num_pos_feats)));
      close(qx, ref('inter/query_pos_x'), ACT, 'inter/query_pos_x');
      close(qy, ref('inter/query_pos_y'), ACT, 'inter/query_pos_y');
      tf.dispose([refPts, tgt, qp, x, y, qx, qy]);
    });

    it('each decoder layer (self-attention part, RCDA part, output) and the heads on the fixture inputs', () => {
      const refPts = f('inter/reference_points');
      const memory = nchwToNhwc(f(`inter/encoder_layer${c.num_encoder_layers - 1}`)) as tf.Tensor4D;
      const qp = f('inter/query_pos');
      const qx = f('inter/query_pos_x');
      const qy = f('inter/query_pos_y');
      const [b, h, w, d] = memory.shape;
      const logitsRef = fixtureTensor(FIXTURE, 'pred_logits');
      const boxesRef = fixtureTensor(FIXTURE, 'pred_boxes');
      for (let i = 0; i < c.num_decoder_layers; i++) {
        const layer = tr.decoder_layers.at(i);
        const input = f(i === 0 ? 'inter/tgt' : `inter/decoder_layer${i - 1}`);
        // The two attention parts, as RCDADecoderLayer.forward composes them (upstream TransformerDecoderLayer.forward).
        const self = tf.tidy(() => {
          const qk = input.add(qp);
          return layer.norm2.forward(input.add(layer.self_attn.forward(qk, qk, input)));
        });
        close(self, ref(`inter/decoder_layer${i}_self`), ACT, `inter/decoder_layer${i}_self`);
        const selfRef = f(`inter/decoder_layer${i}_self`);
        const cross = tf.tidy(() =>
          layer.cross_attn.forward({
            query_row: selfRef.add(qx),
            query_col: selfRef.add(qy),
            key_row: memory.add(pos.posemb_row.reshape([b, 1, w, d])),
            key_col: memory.add(pos.posemb_col.reshape([b, h, 1, d])),
            value: memory,
            key_padding_mask: featureMask,
          }),
        );
        close(cross, ref(`inter/decoder_layer${i}_cross`), ACT, `inter/decoder_layer${i}_cross`);
        const out = layer.forward(input, { ...pos, reference_points: refPts, memory, mask: featureMask, adapt_pos2d: tr.adapt_pos2d, adapt_pos1d: tr.adapt_pos1d });
        close(out, ref(`inter/decoder_layer${i}`), ACT, `inter/decoder_layer${i}`);
        // Heads on the fixture's layer output.
        const outRef = f(`inter/decoder_layer${i}`);
        const logits = tr.classHead.forward(outRef);
        const boxes = tf.tidy(() => {
          const [xy, wh] = tf.split(tr.boxHead.forward(outRef), [2, 2], -1);
          return tf.sigmoid(tf.concat([xy.add(inverseSigmoid(refPts, 1e-5)), wh], -1)); // upstream util.misc.inverse_sigmoid
        });
        const lr = tf.tidy(() => logitsRef.gather([i]).squeeze([0]));
        const br = tf.tidy(() => boxesRef.gather([i]).squeeze([0]));
        close(logits, lr, ACT, `heads: pred_logits layer ${i}`);
        close(boxes, br, ACT, `heads: pred_boxes layer ${i}`);
        tf.dispose([input, self, selfRef, cross, out, outRef, logits, boxes, lr, br]);
      }
      tf.dispose([refPts, memory, qp, qx, qy, logitsRef, boxesRef]);
    });

    it('RCDA alone, H > W, with and without a padding mask', () => {
      const attn = tr.decoder_layers.at(0).cross_attn;
      const names = ['query_row', 'query_col', 'key_row', 'key_col', 'value'] as const;
      const inputs = Object.fromEntries(names.map((n) => [n, f(`rcda/${n}`)])) as Record<(typeof names)[number], tf.Tensor>;
      const mask = tf.tidy(() => f('rcda/key_padding_mask').cast('bool'));
      const out = attn.forward({ ...inputs, key_padding_mask: mask });
      const outNoMask = attn.forward({ ...inputs });
      close(out, ref('rcda/output'), ACT, 'rcda/output');
      close(outNoMask, ref('rcda/output_nomask'), ACT, 'rcda/output_nomask');
      tf.dispose([...Object.values(inputs), mask, out, outNoMask]);
    });

    it('the whole forward (AnchorDETR.forward): pred_logits / pred_boxes of every decoder layer', () => {
      const batch = tinyBatch(c);
      const out = model.forward(batch);
      const layers = [...(out.aux_outputs ?? []), { pred_logits: out.pred_logits, pred_boxes: out.pred_boxes }];
      expect(layers.length).toBe(c.num_decoder_layers);
      const logits = tf.stack(layers.map((l) => l.pred_logits));
      const boxes = tf.stack(layers.map((l) => l.pred_boxes));
      close(logits, ref('pred_logits'), ACT, 'pred_logits');
      close(boxes, ref('pred_boxes'), ACT, 'pred_boxes');
      tf.dispose([batch.images, batch.masks, logits, boxes, ...layers.flatMap((l) => [l.pred_logits, l.pred_boxes])]);
    });

    it('gradients of the fixed scalar w.r.t. every parameter and the feature map', () => {
      const batch = tinyBatch(c);
      const upLogits = f('grad/upstream_logits');
      const upBoxes = f('grad/upstream_boxes');
      const feature = tf.variable(stub.feature as tf.Tensor4D, true, `anchor_parity_feature_${backend}`);
      const saved = stub.feature;
      stub.feature = feature as unknown as tf.Tensor4D;
      const params = model.namedParameters();
      let scalar: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const out = model.forward(batch);
        const layers = [...(out.aux_outputs ?? []), { pred_logits: out.pred_logits, pred_boxes: out.pred_boxes }];
        const logits = tf.stack(layers.map((l) => l.pred_logits));
        const boxes = tf.stack(layers.map((l) => l.pred_boxes));
        return logits.mul(upLogits).sum().add(boxes.mul(upBoxes).sum()) as tf.Scalar;
      }, [feature, ...params.map(([, p]) => p.variable)]);
      scalar = value;
      stub.feature = saved;
      close(scalar, ref('grad/scalar'), RTOL.loss, 'grad/scalar');
      const gFeature = nhwcToNchw(grads[feature.name]);
      close(gFeature, ref('grad/feature'), RTOL.grad, 'grad/feature');
      expect(params.length).toBe(loadReport.loaded.length - 8 * (c.num_decoder_layers - 1)); // tied heads (2 class + 6 box entries) listed once
      for (const [name, p] of params) {
        const g = grads[p.variable.name];
        expect(g, name).toBeDefined();
        const torchG = toTorchLayout(p.layout, g);
        close(torchG, ref(`grad/param/${name}`), RTOL.grad, `grad/param/${name}`);
        torchG.dispose();
      }
      tf.dispose([batch.images, batch.masks, upLogits, upBoxes, feature, gFeature, scalar, ...Object.values(grads)]);
    });
  });
}

/** Zero images and the fixture's image-level padding mask (the stub backbone ignores the images). */
function tinyBatch(c: Record<string, any>): Batch { // eslint-disable-line @typescript-eslint/no-explicit-any
  const [ih, iw] = c.image_hw as [number, number];
  const masks = tf.tidy(() => fixtureTensor(FIXTURE, 'image_mask').cast('bool')) as tf.Tensor3D;
  return {
    images: tf.zeros([c.B, ih, iw, 3]) as tf.Tensor4D,
    masks,
    targets: [],
    imageIds: [],
    imageSizes: (c.valid_image_hw as [number, number][]).map(([h, w]) => [h, w]),
    origSizes: (c.valid_image_hw as [number, number][]).map(([h, w]) => [h, w]),
  };
}

describeParity('cpu');
describeParity('wasm');
