// Test helper shared by the cpu and wasm deformable-attention tests: the MultiScaleDeformableAttention
// module of the msda fixture's mod/<paramCase> (README section 3), loaded with its torch parameters.
import * as tf from '@tensorflow/tfjs';
import { fixtureTensor, loadFixture } from '@detr/core/testing';
import { MultiScaleDeformableAttention, type MsDeformAttnImpl } from '../src/index';

const FILE = 'msda';
export const MSDA_PARAMS = ['sampling_offsets.weight', 'sampling_offsets.bias', 'attention_weights.weight', 'attention_weights.bias', 'value_proj.weight', 'value_proj.bias', 'output_proj.weight', 'output_proj.bias'];

export function buildMsdaFixtureModule(paramCase: string, core: MsDeformAttnImpl): MultiScaleDeformableAttention {
  const cfg = loadFixture(FILE).config;
  const m = new MultiScaleDeformableAttention({ embed_dim: cfg.embed_dim, num_heads: cfg.num_heads, num_levels: cfg.num_levels, num_points: cfg.num_points, dropout: 0, batch_first: true, core });
  const sd = new Map(MSDA_PARAMS.map((k) => [k, fixtureTensor(FILE, `mod/${paramCase}/param/${k}`)]));
  m.loadStateDict(sd, { layout: 'torch', strict: true });
  tf.dispose([...sd.values()]);
  return m.eval();
}
