/**
 * Loss weights. detrex's model configs expand the base weights in Python at load time
 * (`projects/dino/configs/models/dino_r50.py`: `_enc` and `_0.._{L-2}` copies of every base key, the
 * DN keys included), so the expansion does not follow overrides; here `derivedWeightDict` recomputes
 * it after overrides. As in detrex (`DINO.forward`, `HDeformableDETR.forward`) the criterion returns raw
 * losses and the detector multiplies them by the weight dict (`applyWeightDict`).
 */
import * as tf from '@tensorflow/tfjs';
import { derived, type ConfigNode, type Derived } from '@detr/registry';

export type WeightDict = Record<string, number>;
export type LossDict = Record<string, tf.Scalar>;

export interface WeightDictExpansion {
  /** Number of auxiliary decoder outputs (decoder layers - 1): keys `_0 .. _{num_aux-1}`. */
  num_aux?: number;
  /** Two-stage encoder output: keys `_enc`. */
  enc?: boolean;
  /** Denoising: keys `_dn` and `_dn_0 ..`; `true` reuses the base weights, an object gives DN's own. */
  dn?: boolean | WeightDict;
  /** H-DETR one-to-many branch: a `_one2many` copy of every key above except enc and dn. */
  one2many?: boolean;
}

/** The full weight dict from the base weights of one output (`loss_class`, `loss_bbox`, `loss_giou`). */
export function expandWeightDict(base: WeightDict, opts: WeightDictExpansion = {}): WeightDict {
  const numAux = opts.num_aux ?? 0;
  if (!Number.isInteger(numAux) || numAux < 0) throw new Error(`expandWeightDict: num_aux must be an integer >= 0, got ${numAux}`);
  const entries = Object.entries(base);
  for (const [k, v] of entries) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`expandWeightDict: base weight ${k} must be a finite number, got ${JSON.stringify(v)}`);
  }
  const out: WeightDict = {};
  const copy = (suffix: string, from: [string, number][]) => {
    for (const [k, v] of from) out[k + suffix] = v;
  };
  copy('', entries);
  for (let i = 0; i < numAux; i++) copy(`_${i}`, entries);
  if (opts.one2many) {
    copy('_one2many', entries);
    for (let i = 0; i < numAux; i++) copy(`_${i}_one2many`, entries);
  }
  if (opts.enc) copy('_enc', entries);
  if (opts.dn) {
    const dnBase = opts.dn === true ? entries : Object.entries(opts.dn);
    copy('_dn', dnBase);
    for (let i = 0; i < numAux; i++) copy(`_dn_${i}`, dnBase);
  }
  return out;
}

export interface DerivedWeightDictOptions extends Omit<WeightDictExpansion, 'num_aux'> {
  /** The number of aux outputs, or a config path to read it from, e.g. 'model.transformer.decoder.num_layers' with `minus_one`. */
  num_aux: number | string;
  /** Subtract one from the value read at a `num_aux` path (decoder layers -> aux outputs). */
  minus_one?: boolean;
  /** Key of the base weights in the node holding the derived value (default 'base_weight_dict'). */
  base_key?: string;
}

/**
 * A config value (`weight_dict: derivedWeightDict({...})`) that expands the node's `base_weight_dict`
 * after overrides, so `model.criterion.base_weight_dict.loss_class=2` or a new decoder depth updates
 * every `_i` / `_enc` / `_dn` key.
 */
export function derivedWeightDict(opts: DerivedWeightDictOptions): Derived<WeightDict> {
  const baseKey = opts.base_key ?? 'base_weight_dict';
  return derived(({ node, get }) => {
    const base = (node as ConfigNode)[baseKey];
    if (base === undefined) throw new Error(`the criterion node has no "${baseKey}" to expand`);
    let numAux = typeof opts.num_aux === 'string' ? Number(get(opts.num_aux)) : opts.num_aux;
    if (typeof opts.num_aux === 'string' && opts.minus_one) numAux -= 1;
    return expandWeightDict({ ...(base as WeightDict) }, { num_aux: numAux, enc: opts.enc, dn: opts.dn, one2many: opts.one2many });
  }, `weight_dict expanded from ${baseKey}`);
}

/**
 * loss * weight for every key (detrex: `loss_dict[k] *= weight_dict[k]`). detrex leaves a loss without
 * a weight unscaled and still sums it; here that is an error by default (`missing: 'error'`), since it
 * almost always means a weight dict that was not expanded; `'keep'` is detrex's behaviour.
 */
export function applyWeightDict(losses: LossDict, weights: WeightDict, opts: { missing?: 'error' | 'keep' } = {}): LossDict {
  const missing = Object.keys(losses).filter((k) => !(k in weights));
  if (missing.length > 0 && (opts.missing ?? 'error') === 'error') {
    throw new Error(`applyWeightDict: no weight for ${missing.join(', ')}; weight_dict has ${Object.keys(weights).join(', ')}`);
  }
  return tf.tidy(() => {
    const out: LossDict = {};
    for (const [k, v] of Object.entries(losses)) out[k] = k in weights ? (tf.mul(v, weights[k]) as tf.Scalar) : (tf.clone(v) as tf.Scalar);
    return out;
  });
}

/** Sum of a loss dict (detectron2's `losses = sum(loss_dict.values())`). */
export function sumLosses(losses: LossDict): tf.Scalar {
  const values = Object.values(losses);
  if (values.length === 0) throw new Error('sumLosses: empty loss dict');
  return tf.tidy(() => tf.addN(values) as tf.Scalar);
}

export function disposeLosses(losses: LossDict): void {
  for (const v of Object.values(losses)) v.dispose();
}
