/**
 * Every ablation row of the Align-DETR paper (arXiv 2304.07527v1: Tables 4, 5, 6, 8 and appendix
 * Table B), as data: the row's settings, the config overrides that make it from a base config, and the
 * paper's COCO val numbers. Each `ablations/<name>.ts` config is `ablationConfig(base, '<name>')`, and
 * `applyAblation(cfg, name)` applies the same row to any Align-DETR config (e.g. the small MNIST one).
 *
 * Base (paper section 4.1 / 4.3, Table A): R50 4-scale, 12 epochs (1x), k = 3, alpha = 0.25, tau = 1.5,
 * gamma = 2, i.e. `aligndetr_k3_r50_4scale_12ep`; every row changes only what its table varies:
 *  - Table 4 compares classification losses on DINO (its "baseline (Focal loss)" is DINO's 49.0 and its
 *    IA-BCE row the one-to-one 50.0 of Table 5), so its rows run with one-to-one matching (k = 1);
 *  - Table 5 switches IA-BCE (off = DINO's focal loss) and mixed matching (off = k = 1);
 *  - Table 6 varies alpha, k and tau one at a time;
 *  - Table 8 varies k with prime sample weighting on / off (off: tau = Infinity, every rank weight 1);
 *  - Table B varies IA-BCE's (w_pos, w_neg), L = -w_pos ln(s) - w_neg ln(1-s) on matched entries and
 *    s^2 ln(1-s) elsewhere; its IA-BCE row equals Table 8's k = 1 row (50.0 / 67.8 / 54.5), so it runs
 *    with k = 1. Its first row is the focal form (1-s)^2, 0 as the table writes it (no alpha balance).
 * "k" is applied as upstream applies match_num: k on the encoder proposals and decoder layers 0..L-2,
 * one-to-one on the last layer (the paper names the intermediate layers; the official k = 2 config
 * also uses k on the encoder).
 */
import { applyOverrides, cloneConfig, configToPlain, resolveAt, resolveConfig, type ConfigNode } from '@detr/registry';
import { matchNumForK } from '../../src/index'; // also registers detector/iou_branch_detr (Table 4 IoU-branch rows)

/** The paper's tables with the setting each row changes. */
export const ABLATION_TABLES = {
  '4': 'Table 4: classification losses against the misalignment problem (one-to-one matching)',
  '5': 'Table 5: IA-BCE and mixed matching on / off',
  '6a': 'Table 6(a): alpha, the exponent of s in t = s^alpha * IoU^(1-alpha)',
  '6b': 'Table 6(b): k, the number of queries matched to each GT in the intermediate layers',
  '6c': 'Table 6(c): tau, the temperature of prime sample weighting w = exp(-rank / tau)',
  '8': 'Table 8: k with and without prime sample weighting',
  B: 'Table B (appendix C): IA-BCE weight variants (w_pos, w_neg), one-to-one matching',
} as const;

export type AblationTable = keyof typeof ABLATION_TABLES;

/** The config every row file starts from. */
export const ABLATION_BASE_CONFIG = 'aligndetr_k3_r50_4scale_12ep';

/** What a row changes from the base; absent = the base's value. */
export interface AblationSettings {
  /** Many-to-one k on the encoder and decoder layers 0..L-2 (1 = one-to-one everywhere). */
  k?: number;
  /** Prime sample weighting temperature; Infinity = off. */
  tau?: number;
  /** IA-BCE alpha. */
  alpha?: number;
  /** IA-BCE weight expressions on matched entries. */
  w_pos?: string;
  w_neg?: string;
  /** Replace the classification loss (a registry id plus its options). */
  class_loss?: { _target_: string; [option: string]: string | number };
  /** Swap in the IoU-branch detector with this score-fusion weight (0 = no fusion). */
  iou_branch?: { iou_score_weight: number };
}

/** COCO val 2017 numbers reported by the paper (Table 6 gives AP only). */
export interface PaperNumbers {
  AP: number;
  AP50?: number;
  AP75?: number;
}

export interface AblationRow {
  /** Config name: `ablations/<name>`. */
  name: string;
  table: AblationTable;
  /** The row as the paper labels it. */
  label: string;
  settings: AblationSettings;
  paper: PaperNumbers;
  /** The override lines that make this row from the R50 base (6 decoder layers). */
  overrides: string[];
}

const FOCAL = { _target_: 'loss/sigmoid_focal', alpha: 0.25, gamma: 2 };

type RowSpec = Omit<AblationRow, 'overrides'>;

const n = (AP: number, AP50?: number, AP75?: number): PaperNumbers => (AP50 === undefined ? { AP } : { AP, AP50, AP75 });

const ROWS: RowSpec[] = [
  // Table 4 (AP / AP50 / AP75).
  { name: 'table4_focal', table: '4', label: 'baseline (Focal loss)', settings: { class_loss: FOCAL, k: 1 }, paper: n(49.0, 66.0, 53.5) },
  { name: 'table4_iou_branch_nofuse', table: '4', label: 'w/ IoU branch* (no score fusing)', settings: { class_loss: FOCAL, k: 1, iou_branch: { iou_score_weight: 0 } }, paper: n(49.0, 66.0, 54.0) },
  { name: 'table4_iou_branch', table: '4', label: 'w/ IoU branch (IoU score weight 0.3)', settings: { class_loss: FOCAL, k: 1, iou_branch: { iou_score_weight: 0.3 } }, paper: n(49.2, 66.3, 53.5) },
  { name: 'table4_qfl_gamma2', table: '4', label: 'w/ QFL (gamma=2)', settings: { class_loss: { _target_: 'loss/qfl', beta: 2 }, k: 1 }, paper: n(47.6, 64.3, 51.8) },
  { name: 'table4_qfl_gamma1', table: '4', label: 'w/ QFL (gamma=1)', settings: { class_loss: { _target_: 'loss/qfl', beta: 1 }, k: 1 }, paper: n(48.6, 65.7, 53.5) },
  { name: 'table4_vfl', table: '4', label: 'w/ VFL', settings: { class_loss: { _target_: 'loss/vfl', alpha: 0.75, gamma: 2 }, k: 1 }, paper: n(48.7, 67.0, 52.3) },
  { name: 'table4_ia_bce', table: '4', label: 'w/ IA-BCE (Ours)', settings: { k: 1 }, paper: n(50.0, 67.8, 54.4) },
  // Table 5: IA-BCE x mixed matching.
  { name: 'table5_iabce_off_mixed_off', table: '5', label: 'IA-BCE off, mixed matching off', settings: { class_loss: FOCAL, k: 1 }, paper: n(49.0, 66.0, 53.5) },
  { name: 'table5_iabce_on_mixed_off', table: '5', label: 'IA-BCE on, mixed matching off', settings: { k: 1 }, paper: n(50.0, 67.8, 54.2) },
  { name: 'table5_iabce_off_mixed_on', table: '5', label: 'IA-BCE off, mixed matching on', settings: { class_loss: FOCAL }, paper: n(49.1, 67.5, 53.4) },
  { name: 'table5_iabce_on_mixed_on', table: '5', label: 'IA-BCE on, mixed matching on', settings: {}, paper: n(50.2, 67.8, 54.4) },
  // Table 6 (AP only).
  { name: 'table6a_alpha0', table: '6a', label: 'alpha = 0', settings: { alpha: 0 }, paper: n(50.0) },
  { name: 'table6a_alpha025', table: '6a', label: 'alpha = 0.25', settings: {}, paper: n(50.2) },
  { name: 'table6a_alpha05', table: '6a', label: 'alpha = 0.5', settings: { alpha: 0.5 }, paper: n(49.2) },
  { name: 'table6a_alpha075', table: '6a', label: 'alpha = 0.75', settings: { alpha: 0.75 }, paper: n(47.6) },
  { name: 'table6b_k1', table: '6b', label: 'k = 1', settings: { k: 1 }, paper: n(50.0) },
  { name: 'table6b_k2', table: '6b', label: 'k = 2', settings: { k: 2 }, paper: n(50.1) },
  { name: 'table6b_k3', table: '6b', label: 'k = 3', settings: {}, paper: n(50.2) },
  { name: 'table6b_k4', table: '6b', label: 'k = 4', settings: { k: 4 }, paper: n(50.2) },
  { name: 'table6c_tau15', table: '6c', label: 'tau = 1.5', settings: {}, paper: n(50.2) },
  { name: 'table6c_tau3', table: '6c', label: 'tau = 3', settings: { tau: 3 }, paper: n(50.1) },
  { name: 'table6c_tau6', table: '6c', label: 'tau = 6', settings: { tau: 6 }, paper: n(50.0) },
  { name: 'table6c_tau9', table: '6c', label: 'tau = 9', settings: { tau: 9 }, paper: n(49.7) },
  // Table 8: k x prime sample (PS) weighting.
  { name: 'table8_k1_ps_off', table: '8', label: 'k = 1, PS weighting off (baseline)', settings: { k: 1, tau: Infinity }, paper: n(50.0, 67.8, 54.5) },
  { name: 'table8_k2_ps_off', table: '8', label: 'k = 2, PS weighting off', settings: { k: 2, tau: Infinity }, paper: n(49.6, 66.6, 53.8) },
  { name: 'table8_k2_ps_on', table: '8', label: 'k = 2, PS weighting on', settings: { k: 2 }, paper: n(50.1, 67.5, 54.2) },
  { name: 'table8_k3_ps_off', table: '8', label: 'k = 3, PS weighting off', settings: { tau: Infinity }, paper: n(49.7, 66.7, 53.9) },
  { name: 'table8_k3_ps_on', table: '8', label: 'k = 3, PS weighting on', settings: {}, paper: n(50.2, 67.8, 54.4) },
  // Table B: (w_pos, w_neg) on matched entries; t = the (rank-weighted) quality, s = the probability.
  { name: 'tableB_focal_form', table: 'B', label: 'w_pos = (1-s)^2, w_neg = 0 (focal loss baseline)', settings: { k: 1, w_pos: '(1-s)^2', w_neg: '0' }, paper: n(49.0, 66.6, 53.5) },
  { name: 'tableB_one_zero', table: 'B', label: 'w_pos = 1, w_neg = 0', settings: { k: 1, w_pos: '1', w_neg: '0' }, paper: n(47.5, 67.6, 51.1) },
  { name: 'tableB_t_zero', table: 'B', label: 'w_pos = t, w_neg = 0', settings: { k: 1, w_pos: 't', w_neg: '0' }, paper: n(48.0, 67.6, 51.8) },
  { name: 'tableB_tsq_tsq', table: 'B', label: 'w_pos = (t-s)^2, w_neg = (t-s)^2', settings: { k: 1, w_pos: '(t-s)^2', w_neg: '(t-s)^2' }, paper: n(49.6, 67.1, 54.0) },
  { name: 'tableB_tsq_focal_neg', table: 'B', label: 'w_pos = (t-s)^2, w_neg = (1-t)s^2', settings: { k: 1, w_pos: '(t-s)^2', w_neg: '(1-t)s^2' }, paper: n(49.8, 66.2, 54.5) },
  { name: 'tableB_ia_bce', table: 'B', label: 'w_pos = t, w_neg = 1-t (IA-BCE)', settings: { k: 1 }, paper: n(50.0, 67.8, 54.5) },
];

/** The paper's default setting (section 4.1, Table A): what a row does not mention. */
export const PAPER_DEFAULT = { k: 3, tau: 1.5, alpha: 0.25, w_pos: 't', w_neg: '1-t' } as const;

/**
 * The override lines of a row's settings for a model with `decoderLayers` decoder layers. With
 * `skipDefaults` (a base in the paper's default setting) settings equal to the default need no line.
 */
export function settingsOverrides(s: AblationSettings, decoderLayers: number, skipDefaults = true): string[] {
  const lines: string[] = [];
  const wanted = <K extends keyof typeof PAPER_DEFAULT>(key: K) => s[key] !== undefined && !(skipDefaults && s[key] === PAPER_DEFAULT[key]);
  if (s.iou_branch) {
    lines.push('model._target_=detector/iou_branch_detr');
    lines.push(`+model.iou_score_weight=${s.iou_branch.iou_score_weight}`);
  }
  if (s.class_loss) lines.push(`model.criterion.class_loss=${JSON.stringify(s.class_loss)}`);
  if (wanted('alpha')) lines.push(`model.criterion.class_loss.alpha=${s.alpha}`);
  if (wanted('w_pos')) lines.push(`model.criterion.class_loss.w_pos="${s.w_pos}"`);
  if (wanted('w_neg')) lines.push(`model.criterion.class_loss.w_neg="${s.w_neg}"`);
  if (wanted('k')) lines.push(`model.criterion.match_num=${JSON.stringify(matchNumForK(s.k!, decoderLayers))}`);
  if (wanted('tau')) lines.push(`model.criterion.tau=${s.tau}`);
  return lines;
}

const R50_DECODER_LAYERS = 6;

/** Every row, in paper order, with its override lines for the R50 base (the paper default). */
export function ablationRows(): AblationRow[] {
  return ROWS.map((r) => ({ ...r, settings: { ...r.settings }, paper: { ...r.paper }, overrides: settingsOverrides(r.settings, R50_DECODER_LAYERS) }));
}

export function ablationRow(name: string): AblationRow {
  const row = ablationRows().find((r) => r.name === name);
  if (!row) throw new Error(`unknown ablation row "${name}"; rows: ${ROWS.map((r) => r.name).join(', ')}`);
  return row;
}

/**
 * The override lines that make row `name` from `cfg`, any Align-DETR config (e.g. the small MNIST one,
 * whose decoder has 3 layers and k = 2): the row's settings over the paper default (the IA-BCE
 * settings only when the row keeps IA-BCE), for the config's decoder depth, keeping only the lines
 * that change something in `cfg`.
 */
export function ablationOverrides(cfg: ConfigNode, name: string): string[] {
  const row = ablationRow(name);
  const layers = Number(resolveAt(cfg, 'model.transformer.decoder.num_layers'));
  const { k, tau, alpha, w_pos, w_neg } = PAPER_DEFAULT;
  const defaults: AblationSettings = row.settings.class_loss ? { k, tau } : { k, tau, alpha, w_pos, w_neg };
  const plainText = (c: ConfigNode) => JSON.stringify(configToPlain(resolveConfig(c)));
  const before = plainText(cfg);
  return settingsOverrides({ ...defaults, ...row.settings }, layers, false).filter((line) => plainText(applyOverrides(cfg, [line])) !== before);
}

/**
 * A copy of `cfg` with row `name` applied; its train.output_dir becomes `<output_dir>/ablations/<name>`
 * so rows never share an output folder (the only change that is not the paper's).
 */
export function applyAblation<T extends ConfigNode>(cfg: T, name: string): T {
  const out = applyOverrides(cfg, ablationOverrides(cfg, name));
  const train = out.train as ConfigNode | undefined;
  if (train && typeof train.output_dir === 'string') train.output_dir = `${train.output_dir}/ablations/${name}`;
  return out;
}

/** The five top-level nodes of a config module. */
export interface ConfigModule {
  model: ConfigNode;
  dataloader: ConfigNode;
  optimizer: ConfigNode;
  lr_multiplier: ConfigNode;
  train: ConfigNode;
}

/** What an `ablations/<name>.ts` file exports: the base module with row `name` applied. */
export function ablationConfig(base: ConfigModule, name: string): ConfigModule {
  const { model, dataloader, optimizer, lr_multiplier, train } = base;
  return applyAblation(cloneConfig({ model, dataloader, optimizer, lr_multiplier, train }) as unknown as ConfigNode, name) as unknown as ConfigModule;
}
