// FFN (keys, residual, PReLU activation), BaseTransformerLayer's declared operation order (post-norm and
// pre-norm composed by hand from the same modules), TransformerLayerSequence, and stopGradient.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LayerNorm, PReLU } from '@detr/core';
import { RTOL, expectClose } from '@detr/core/testing';
import { BaseTransformerLayer, FFN, MultiheadAttention, TransformerLayerSequence, stopGradient } from '../src/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('FFN', () => {
  it("has detrex's keys (layers.0.0 hidden Linear, layers.1 output Linear) and adds the identity", () => {
    const ffn = new FFN({ embed_dim: 4, feedforward_dim: 6 });
    expect([...ffn.stateDictShapes('torch')]).toEqual([
      ['layers.0.0.weight', [6, 4]],
      ['layers.0.0.bias', [6]],
      ['layers.1.weight', [4, 6]],
      ['layers.1.bias', [4]],
    ]);
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 1);
    const sd = ffn.stateDict('native');
    const expected = tf.tidy(() => tf.relu(x.matMul(sd.get('layers.0.0.weight')!.expandDims(0).tile([2, 1, 1])).add(sd.get('layers.0.0.bias')!))
      .matMul(sd.get('layers.1.weight')!.expandDims(0).tile([2, 1, 1])).add(sd.get('layers.1.bias')!).add(x));
    expectClose(ffn.forward(x), expected, RTOL.activation, 'FFN output');
    const identity = tf.onesLike(x);
    expectClose(ffn.forward(x, identity), expected.sub(x).add(identity), RTOL.activation, 'FFN with explicit identity');
  });

  it('keeps a parametric activation under layers.{i}.1 (DAB-DETR PReLU) and checks num_fcs', () => {
    const ffn = new FFN({ embed_dim: 4, feedforward_dim: 8, num_fcs: 3, activation: () => new PReLU() });
    expect([...ffn.stateDictShapes('torch').keys()]).toEqual([
      'layers.0.0.weight', 'layers.0.0.bias', 'layers.0.1.weight',
      'layers.1.0.weight', 'layers.1.0.bias', 'layers.1.1.weight',
      'layers.2.weight', 'layers.2.bias',
    ]);
    expect(() => new FFN({ num_fcs: 1 })).toThrow(/num_fcs should be no less than 2/);
  });
});

describe('BaseTransformerLayer', () => {
  const e = 8;
  const make = (order: ('self_attn' | 'norm' | 'ffn' | 'cross_attn')[]) =>
    new BaseTransformerLayer({
      attn: () => new MultiheadAttention({ embed_dim: e, num_heads: 2 }),
      ffn: () => new FFN({ embed_dim: e, feedforward_dim: 16 }),
      norm: () => new LayerNorm(e),
      operation_order: order,
    });

  it('post-norm (self_attn, norm, ffn, norm) equals the hand-composed modules', () => {
    const layer = make(['self_attn', 'norm', 'ffn', 'norm']);
    expect(layer.preNorm).toBe(false);
    expect([...layer.stateDictShapes('torch').keys()].filter((k) => !k.includes('attn.'))).toEqual([
      'ffns.0.layers.0.0.weight', 'ffns.0.layers.0.0.bias', 'ffns.0.layers.1.weight', 'ffns.0.layers.1.bias',
      'norms.0.weight', 'norms.0.bias', 'norms.1.weight', 'norms.1.bias',
    ]);
    // Distinct norm parameters so a swapped order would show.
    tf.tidy(() => layer.norms.at(1).getParameter('weight').assign(tf.fill([e], 2)));
    const x = tf.randomNormal([2, 5, e], 0, 1, 'float32', 3);
    const pos = tf.randomNormal([2, 5, e], 0, 1, 'float32', 4);
    const a = layer.attentions.at(0).forward(x, { query_pos: pos });
    const expected = layer.norms.at(1).forward(layer.ffns.at(0).forward(layer.norms.at(0).forward(a)));
    expectClose(layer.forward(x, { query_pos: pos }), expected, RTOL.activation, 'post-norm layer');
  });

  it('pre-norm (norm, self_attn, norm, ffn) passes the un-normed identity to the residuals', () => {
    const layer = make(['norm', 'self_attn', 'norm', 'ffn']);
    expect(layer.preNorm).toBe(true);
    const x = tf.randomNormal([1, 4, e], 0, 1, 'float32', 5);
    const n0 = layer.norms.at(0).forward(x);
    const a = layer.attentions.at(0).forward(n0, { key: n0, value: n0, identity: x });
    const expected = layer.ffns.at(0).forward(layer.norms.at(1).forward(a), a);
    expectClose(layer.forward(x), expected, RTOL.activation, 'pre-norm layer');
  });

  it('rejects unknown operations, mismatched attention lists and mask counts', () => {
    expect(() => make(['self_attn', 'bogus' as 'norm'])).toThrow(/unknown operations \[bogus\]/);
    expect(() => new BaseTransformerLayer({ attn: [], ffn: () => new FFN({ embed_dim: e }), norm: () => new LayerNorm(e), operation_order: ['self_attn', 'ffn'] })).toThrow(/0 attentions given/);
    const layer = make(['self_attn', 'ffn']);
    expect(() => layer.forward(tf.zeros([1, 2, e]), { attn_masks: [null, null] })).toThrow(/attn_masks 2 must be equal/);
  });

  it('TransformerLayerSequence builds num_layers independent layers under layers.{i}', () => {
    const seq = new TransformerLayerSequence({ transformer_layers: () => make(['self_attn', 'norm', 'ffn', 'norm']), num_layers: 3 });
    const keys = [...seq.stateDictShapes().keys()];
    expect(keys.filter((k) => k.endsWith('norms.0.weight'))).toEqual(['layers.0.norms.0.weight', 'layers.1.norms.0.weight', 'layers.2.norms.0.weight']);
    expect(seq.layers.at(0).attentions.at(0)).not.toBe(seq.layers.at(1).attentions.at(0));
  });
});

describe('stopGradient', () => {
  it('passes values and cuts the gradient path', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => t.mul(stopGradient(t.square())).sum())(x);
    // d/dx [x * c] with c = x^2 held constant = x^2.
    expectClose(g, [1, 4, 9], 0, 'gradient with the stopped factor');
    expectClose(stopGradient(x), x, 0, 'value');
  });
});
