/**
 * Align-DETR's `match_num` (official `many_to_one_criterion.py`: the k of each output, indexed by
 * layer_spec): [encoder proposals, decoder layers 0 .. L-2, last layer] = [k, k, ..., k, 1]: many-to-one
 * with k on the encoder and every intermediate decoder layer, one-to-one on the last (paper eq. 8). The
 * official k = 2 config writes [2,2,2,2,2,2,1] for its 6 decoder layers.
 */
import { derived, type Derived } from '@detr/registry';

/** [k] * decoderLayers + [1]. */
export function matchNumForK(k: number, decoderLayers: number): number[] {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`match_num: k must be an integer >= 1, got ${k}`);
  if (!(Number.isInteger(decoderLayers) && decoderLayers >= 1)) throw new Error(`match_num: the decoder must have an integer number of layers >= 1, got ${decoderLayers}`);
  return [...Array<number>(decoderLayers).fill(k), 1];
}

/**
 * match_num as a config value derived from `model.transformer.decoder.num_layers` after overrides, so
 * a shallower or deeper decoder keeps its last layer one-to-one. `model.criterion.match_num=[...]`
 * replaces it with an explicit list.
 */
export function derivedMatchNum(k: number): Derived<number[]> {
  matchNumForK(k, 1); // check k now, not at resolution
  return derived(({ get }) => matchNumForK(k, Number(get('model.transformer.decoder.num_layers'))), `match_num = [${k} x decoder layers, 1]`);
}
