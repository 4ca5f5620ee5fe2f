/**
 * Whole-model parity of DAB-DETR against detrex (fixtures/parity/README.md section 13, `dab_detr_tiny`): the
 * tiny model of tools/parity/dab_detr_fixture.py is the project's small config (dab_detr_small_mnist.ts)
 * with the fixture's sizes applied as command-line style overrides, built by `instantiate`, its weights
 * loaded from the real torch.save file through `train.init_checkpoint` loading (engine's loadInitCheckpoint).
 * On a padded 2-image batch it compares pred_logits / pred_boxes of every decoder layer and the final output,
 * and the intermediates (backbone res2, the padding mask at the feature map, encoder memory, the decoder's
 * reference boxes, query_pos, modulated query_sine_embed and hidden states per layer) with the README
 * tolerance (rtol 1e-5 of each tensor's max), for two forwards:
 *   eval    model.eval(): detrex's all-zero padding mask (eval_padding_mask=false, the upstream default);
 *   masked  model.train() (dropout 0): the batch's padding mask (position embedding, encoder key padding);
 * and the gradients of a fixed random linear function of the masked outputs: the loss, every parameter's
 * gradient norm and the full gradients the fixture stores (rtol 1e-4, or the fixture's per-parameter rtol
 * where float32 PyTorch itself is less accurate).
 * The cpu run also checks the state-dict names / order / shapes against the .pth and that changing one
 * weight makes the comparison fail. The wasm run repeats the comparisons.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPth, toTorchLayout } from '@detr/core';
import { HeadroomLog, RTOL, expectClose, fixturePath, fixtureRaw, fixtureTensor, loadFixture, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';
import type { Batch } from '@detr/engine';
import { loadInitCheckpoint } from '@detr/engine';
import { instantiate } from '@detr/registry';
import { join } from 'node:path';
import { REPO_ROOT, loadAndResolve } from '../../../tools/cli_common';
import { DABDETR } from '../src/index';

const FIXTURE = 'dab_detr_tiny';
const PTH = fixturePath(`${FIXTURE}.pth`);
const CONFIG = join(REPO_ROOT, 'projects/dab-detr/configs/dab_detr_small_mnist.ts');
const MODES = ['eval', 'masked'] as const;
type Mode = (typeof MODES)[number];

type Cfg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The fixture's settings (its __metadata__.config) as overrides of the small config. */
function fixtureOverrides(c: Cfg): string[] {
  const json = JSON.stringify;
  return [
    `model.num_classes=${c.num_classes}`,
    `model.num_queries=${c.num_queries}`,
    `model.embed_dim=${c.embed}`,
    `model.in_features=${json(c.in_features)}`,
    `model.in_channels=${c.in_channels}`,
    `model.backbone.out_features=${json(c.backbone.out_features)}`,
    `model.backbone.freeze_at=${c.backbone.freeze_at}`,
    `model.eval_padding_mask=false`, // detrex: all-zero mask in eval (the small config turns the real mask on)
    ...Object.entries(c.pos_embed).map(([k, v]) => `model.position_embedding.${k}=${json(v)}`),
    `model.transformer.encoder.num_layers=${c.enc_layers}`,
    `model.transformer.decoder.num_layers=${c.dec_layers}`,
    `model.transformer.decoder.modulate_hw_attn=${c.modulate_hw_attn}`,
    `model.transformer.num_patterns=${c.num_patterns}`,
    ...['encoder', 'decoder'].flatMap((p) => [
      `model.transformer.${p}.embed_dim=${c.embed}`,
      `model.transformer.${p}.num_heads=${c.heads}`,
      `model.transformer.${p}.feedforward_dim=${c.ffn}`,
      `model.transformer.${p}.attn_dropout=${c.attn_dropout}`,
      `model.transformer.${p}.ffn_dropout=${c.ffn_dropout}`,
    ]),
    `train.init_checkpoint=${PTH}`,
  ];
}

const cfgOf = () => loadFixture(FIXTURE).config as Cfg;

/** detrex FFN's `activation` child: the same module as `layers.0.1` (our FFN registers it there only). */
const isActivationAlias = (key: string): boolean => /\.ffns\.\d+\.activation\.weight$/.test(key);
const activationTwin = (key: string): string => key.replace(/\.activation\.weight$/, '.layers.0.1.weight');

/** Tensors captured during one forward (kept; the caller disposes them). */
interface Captured {
  mask?: tf.Tensor;
  memory?: tf.Tensor;
  states?: tf.Tensor[];
  references?: tf.Tensor[];
  sine: tf.Tensor[];
  queryPos: tf.Tensor[];
  crossKeyPaddingMask: (tf.Tensor | null | undefined)[];
  logits?: tf.Tensor[];
  boxes?: tf.Tensor[];
}

type AnyFn = (...a: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Replaces obj[name] by a wrapper calling `after(args, result)`; returns the undo. */
function spy(obj: object, name: string, after: (args: any[], out: any) => void): () => void { // eslint-disable-line @typescript-eslint/no-explicit-any
  const target = obj as Record<string, AnyFn>;
  const original = target[name];
  target[name] = (...args: unknown[]) => {
    const out = original.apply(obj, args);
    after(args, out);
    return out;
  };
  return () => {
    delete target[name];
  };
}

const keep = (t: tf.Tensor): tf.Tensor => tf.keep(t.clone());

/** One forward of `model` in `mode` with every intermediate captured. */
function capturedForward(model: DABDETR, batch: Batch, mode: Mode): Captured {
  const cap: Captured = { sine: [], queryPos: [], crossKeyPaddingMask: [] };
  const undo = [
    spy(model.position_embedding, 'forward', ([mask]) => (cap.mask = keep(mask))),
    spy(model.transformer.encoder, 'forward', (_a, out) => (cap.memory = keep(out))),
    spy(model.transformer, 'forward', (_a, out) => {
      cap.states = out.states.map(keep);
      cap.references = out.references.map(keep);
    }),
    ...model.transformer.decoder.layers.toArray().map((layer) =>
      spy(layer.attentions.at(1), 'forward', ([, args]) => {
        cap.sine.push(keep(args.query_sine_embed));
        cap.queryPos.push(keep(args.query_pos));
        cap.crossKeyPaddingMask.push(args.key_padding_mask);
      }),
    ),
  ];
  try {
    model.train(mode === 'masked');
    const out = model.forward(batch);
    const perLayer = [...(out.aux_outputs ?? []), out];
    cap.logits = perLayer.map((o) => o.pred_logits);
    cap.boxes = perLayer.map((o) => o.pred_boxes);
  } finally {
    undo.forEach((f) => f());
    model.eval();
  }
  return cap;
}

function disposeCaptured(c: Captured | undefined): void {
  if (!c) return;
  tf.dispose([c.mask, c.memory, ...(c.states ?? []), ...(c.references ?? []), ...c.sine, ...c.queryPos, ...(c.logits ?? []), ...(c.boxes ?? [])].filter((t): t is tf.Tensor => !!t));
}

function describeDabDetrParity(backend: TestBackend, opts: { structure?: boolean } = {}): void {
  describe(`dab_detr_tiny on ${backend}`, () => defineParity(backend, opts));
}

function defineParity(backend: TestBackend, opts: { structure?: boolean }): void {
  const log = new HeadroomLog(FIXTURE, backend);
  const close = log.close;
  const rtol = RTOL.activation;
  let model: DABDETR;
  let batch: Batch;
  let loadLog: string[];
  let res2: tf.Tensor;
  const runs: Partial<Record<Mode, Captured>> = {};

  beforeAll(async () => {
    await useTestBackend(backend);
    const cfg = loadFixture(FIXTURE).config as Cfg;
    const resolved = (await loadAndResolve(CONFIG, fixtureOverrides(cfg))).resolved as Cfg;
    model = instantiate<DABDETR>(resolved.model).eval();
    loadLog = [];
    loadInitCheckpoint(model, resolved.train.init_checkpoint, (l) => loadLog.push(l));

    const images = tf.tidy(() => fixtureTensor(FIXTURE, 'images').transpose([0, 2, 3, 1])) as tf.Tensor4D; // NCHW -> NHWC
    const masks = tf.tidy(() => fixtureTensor(FIXTURE, 'image_mask').cast('bool')) as tf.Tensor3D;
    const sizes = Array.from(fixtureRaw(FIXTURE, 'image_sizes').data as BigInt64Array, Number);
    const imageSizes = [0, 1].map((i) => [sizes[2 * i], sizes[2 * i + 1]] as [number, number]);
    batch = { images, masks, targets: [], imageIds: [0, 1], imageSizes, origSizes: imageSizes };
    res2 = tf.tidy(() => model.backbone.forward(images)[model.inFeatures[0]]);
    for (const mode of MODES) runs[mode] = capturedForward(model, batch, mode);
  }, 180_000);

  afterAll(() => {
    for (const mode of MODES) disposeCaptured(runs[mode]);
    tf.dispose([res2, batch?.images, batch?.masks].filter((t): t is tf.Tensor => !!t));
    model?.dispose();
    reportHeadroom(log);
  });

  if (opts.structure) {
    describe('dab_detr_tiny from the project config', () => {
      it('has the detrex state dict: the .pth keys, in order, with their shapes (but for the FFN activation aliases)', () => {
        expect(model).toBeInstanceOf(DABDETR);
        const ours = [...model.stateDictShapes('torch')].map(([key, shape]) => ({ key, shape }));
        const pth = readPth(PTH).tensors;
        const theirs = [...pth].filter(([key]) => !isActivationAlias(key)).map(([key, raw]) => ({ key, shape: [...raw.shape] }));
        expect(ours).toEqual(theirs);
        // detrex's FFN also registers its activation as `ffns.0.activation` (the same nn.PReLU as
        // `ffns.0.layers.0.1`): one tensor under two names in the .pth.
        const aliases = [...pth.keys()].filter(isActivationAlias);
        expect(aliases).toHaveLength(cfgOf().enc_layers + cfgOf().dec_layers);
        for (const key of aliases) expectClose(pth.get(key)!.data as Float32Array, pth.get(activationTwin(key))!.data as Float32Array, 0, key);
      });

      it('train.init_checkpoint loads every .pth entry by name: nothing missing or mis-shaped, only the activation aliases unexpected', () => {
        const text = loadLog.join('\n');
        const pth = readPth(PTH).tensors;
        const aliases = [...pth.keys()].filter(isActivationAlias);
        expect(text).toContain(`loaded ${pth.size - aliases.length} tensors`);
        expect(text).toContain(`unexpected keys (${aliases.length}): ${aliases.join(', ')}`);
        for (const bad of ['missing keys', 'shape mismatches']) expect(text).not.toContain(bad);
        expect(text).not.toMatch(/checkpoint\] .*(torchvision|detectron2)/); // no key converter claimed it
      });
    });
  }

  describe(`dab_detr_tiny forward vs detrex (${backend} backend)`, () => {
    it('backbone res2 (GN ResNet-18 style)', () => {
      close(res2.transpose([0, 3, 1, 2]), fixtureRaw(FIXTURE, 'backbone/res2'), rtol, 'backbone/res2');
    });

    for (const mode of MODES) {
      const ref = (key: string) => fixtureRaw(FIXTURE, `${mode}/${key}`);
      const run = () => runs[mode]!;
      const stack = (ts: tf.Tensor[] | undefined) => tf.stack(ts!);

      it(`${mode}: padding mask at the feature map`, () => {
        close(run().mask!.cast('float32'), ref('mask'), 0, `${mode}/mask`);
      });

      it(`${mode}: encoder memory`, () => {
        close(run().memory!, ref('encoder_memory'), rtol, `${mode}/encoder_memory`);
      });

      it(`${mode}: decoder reference boxes, query_pos, modulated query_sine_embed and hidden states per layer`, () => {
        expect(run().crossKeyPaddingMask.every((m) => m == null)).toBe(true); // detrex: no mask in the decoder's cross-attention
        tf.tidy(() => {
          close(stack(run().references), ref('reference_boxes'), rtol, `${mode}/reference_boxes`);
          close(stack(run().queryPos), ref('query_pos'), rtol, `${mode}/query_pos`);
          close(stack(run().sine), ref('query_sine_embed'), rtol, `${mode}/query_sine_embed`);
          close(stack(run().states), ref('hidden_states'), rtol, `${mode}/hidden_states`);
        });
      });

      it(`${mode}: pred_logits / pred_boxes of every decoder layer and the final output`, () => {
        tf.tidy(() => {
          close(stack(run().logits), ref('all_layers/pred_logits'), rtol, `${mode}/all_layers/pred_logits`);
          close(stack(run().boxes), ref('all_layers/pred_boxes'), rtol, `${mode}/all_layers/pred_boxes`);
          close(run().logits!.at(-1)!, ref('pred_logits'), rtol, `${mode}/pred_logits`);
          close(run().boxes!.at(-1)!, ref('pred_boxes'), rtol, `${mode}/pred_boxes`);
        });
      });
    }

    if (opts.structure) {
      it('fails when one weight of the last decoder layer changes by 0.1 (weights are within +-0.22)', () => {
        const w = model.stateDict().get('transformer.decoder.layers.2.attentions.1.query_pos_sine_proj.weight') as tf.Variable;
        const saved = tf.keep(w.clone());
        let perturbed: Captured | undefined;
        try {
          tf.tidy(() => w.assign(w.add(tf.oneHot([5], w.size).reshape(w.shape).mul(0.1))));
          perturbed = capturedForward(model, batch, 'eval');
          const p = perturbed;
          tf.tidy(() => {
            const layers = p.states!.length;
            const refStates = fixtureTensor(FIXTURE, 'eval/hidden_states');
            // The earlier layers are untouched ...
            expectClose(tf.stack(p.states!.slice(0, -1)), refStates.slice(0, layers - 1), rtol, 'perturbed model, hidden states before the change');
            // ... the last one and its outputs move.
            expect(() => expectClose(p.states!.at(-1)!, refStates.slice(layers - 1, 1).squeeze([0]), rtol, 'perturbed last hidden state')).toThrow(/outside/);
            expect(() => expectClose(p.logits!.at(-1)!, fixtureRaw(FIXTURE, 'eval/pred_logits'), rtol, 'perturbed eval/pred_logits')).toThrow(/outside/);
          });
        } finally {
          disposeCaptured(perturbed);
          w.assign(saved);
          saved.dispose();
        }
      });
    }
  });

  describe(`dab_detr_tiny gradients vs detrex (${backend} backend)`, () => {
    // masked (train-mode) forward; loss = sum(all_layers/pred_logits * G_logits) + sum(all_layers/pred_boxes * G_boxes).
    let loss = NaN;
    /** detrex parameter name -> gradient in torch layout. */
    const grads = new Map<string, tf.Tensor>();

    beforeAll(() => {
      const params = model.namedParameters();
      const upLogits = fixtureTensor(FIXTURE, 'grad/upstream_logits');
      const upBoxes = fixtureTensor(FIXTURE, 'grad/upstream_boxes');
      model.train();
      try {
        const { value, grads: g } = tf.variableGrads(() => {
          const out = model.forward(batch);
          const perLayer = [...(out.aux_outputs ?? []), out];
          const logits = tf.stack(perLayer.map((o) => o.pred_logits));
          const boxes = tf.stack(perLayer.map((o) => o.pred_boxes));
          return logits.mul(upLogits).sum().add(boxes.mul(upBoxes).sum()) as tf.Scalar;
        }, params.map(([, p]) => p.variable));
        loss = value.dataSync()[0];
        value.dispose();
        for (const [name, p] of params) {
          const gv = g[p.variable.name];
          if (gv) grads.set(detrexParamName(name), tf.tidy(() => toTorchLayout(p.layout, gv)));
        }
        tf.dispose(Object.values(g));
      } finally {
        model.eval();
        tf.dispose([upLogits, upBoxes]);
      }
    }, 120_000);

    afterAll(() => tf.dispose([...grads.values()]));

    it("every parameter gets a gradient; the names are detrex's named_parameters()", () => {
      // Same set; the order differs only at the FFN PReLU (detrex names it first, as ffns.i.activation).
      expect([...grads.keys()].sort()).toEqual([...cfgOf().grad_param_names].sort());
    });

    it('loss', () => {
      close([loss], fixtureRaw(FIXTURE, 'grad/loss'), RTOL.loss, 'grad/loss');
    });

    it('the gradient norm of every parameter (each on its own scale; rtol 1e-4 or the fixture\'s per-parameter rtol)', () => {
      const refNorms = fixtureRaw(FIXTURE, 'grad/norms').data as Float32Array;
      const names: string[] = cfgOf().grad_param_names;
      const zero = new Set<string>(cfgOf().grad_zero);
      const failures: string[] = [];
      names.forEach((name, i) => {
        const norm = l2(grads.get(name)!);
        try {
          if (zero.has(name)) {
            // Zero in exact arithmetic (float32 PyTorch: < 2e-6).
            if (!(norm <= 1e-4)) throw new Error(`${name}: gradient norm ${norm}, expected ~0 (detrex: zero in exact arithmetic)`);
          } else {
            close([norm], [refNorms[i]], gradRtol(name), `grad norm ${name}`);
          }
        } catch (e) {
          failures.push((e as Error).message);
        }
      });
      expect(failures).toEqual([]);
    });

    it('full gradients of the stored parameters (every one of <= 1024 elements and the fixture\'s grad_full list)', () => {
      const keys = [...loadFixture(FIXTURE).tensors.keys()].filter((k) => k.startsWith('grad/param/'));
      expect(keys.length).toBeGreaterThan(90);
      const failures: string[] = [];
      for (const key of keys) {
        const name = key.slice('grad/param/'.length);
        try {
          close(grads.get(name)!, fixtureRaw(FIXTURE, key), gradRtol(name), key);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
      expect(failures).toEqual([]);
    });
  });
}

/** Our parameter name -> detrex's: the FFN PReLU is first named `ffns.i.activation` there. */
function detrexParamName(name: string): string {
  return name.replace(/\.ffns\.(\d+)\.layers\.0\.1\.weight$/, '.ffns.$1.activation.weight');
}

/** The fixture's gradient tolerance of a parameter: README's 1e-4 or a looser one where float32 PyTorch is less accurate. */
function gradRtol(name: string): number {
  return (cfgOf().grad_rtol as Record<string, number>)[name] ?? RTOL.grad;
}

function l2(t: tf.Tensor): number {
  const v = t.dataSync();
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

describeDabDetrParity('cpu', { structure: true });
describeDabDetrParity('wasm');
