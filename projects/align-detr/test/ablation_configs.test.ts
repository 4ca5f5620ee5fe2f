// The paper's ablation rows as configs (no tensors): one config file per row, every row of Tables 4, 5,
// 6, 8 and B, and each row's resolved config differs from the base config exactly at the paths its
// override lines name (plus its own output folder): no override is idle, nothing else moves (derived
// values included). The same rows applied to the small MNIST config, whose decoder has 3 layers.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configToPlain, loadConfigFile, resolveConfig, type ConfigNode } from '@detr/registry';
import { REPO_ROOT, listProjectConfigs } from '../../../tools/cli_common';
import { ABLATION_BASE_CONFIG, ablationOverrides, ablationRows, applyAblation, type AblationRow } from '../configs/ablations/_rows';
import { overridePath, plainDiff, unexplainedDiff } from './config_diff';

const CONFIGS = join(REPO_ROOT, 'projects/align-detr/configs');
const plain = (cfg: ConfigNode) => configToPlain(resolveConfig(cfg)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const rows = ablationRows();

let base: ConfigNode;
let small: ConfigNode;
beforeAll(async () => {
  base = await loadConfigFile(join(CONFIGS, `${ABLATION_BASE_CONFIG}.ts`));
  small = await loadConfigFile(join(CONFIGS, 'aligndetr_small_mnist.ts'));
});

/** What the paper's row means, written independently of _rows.ts's override generation. */
function expectRowSettings(cfg: Record<string, any>, row: AblationRow, decoderLayers: number): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = row.settings;
  const crit = cfg.model.criterion;
  const k = s.k ?? 3;
  expect(crit.match_num).toEqual([...Array(decoderLayers).fill(k), 1]);
  expect(crit.tau).toBe(s.tau === Infinity ? 'Infinity' : (s.tau ?? 1.5)); // configToPlain writes Infinity as text
  expect(crit.class_loss._target_).toBe(s.class_loss?._target_ ?? 'loss/ia_bce');
  if (!s.class_loss) {
    expect(crit.class_loss).toMatchObject({ alpha: s.alpha ?? 0.25, gamma: 2, w_pos: s.w_pos ?? 't', w_neg: s.w_neg ?? '1-t', w_bg: 's^gamma' });
  }
  expect(cfg.model._target_).toBe(s.iou_branch ? 'detector/iou_branch_detr' : 'detector/align_detr');
  if (s.iou_branch) expect(cfg.model.iou_score_weight).toBe(s.iou_branch.iou_score_weight);
}

describe('ablation table', () => {
  it('holds every row of the paper tables, each with one config file under ablations/', () => {
    const perTable: Record<string, number> = {};
    for (const r of rows) perTable[r.table] = (perTable[r.table] ?? 0) + 1;
    // Rows in arXiv 2304.07527v1: Table 4 has 7, Table 5 4, Table 6 (a), (b), (c) 4 each, Table 8 5, Table B 6.
    expect(perTable).toEqual({ '4': 7, '5': 4, '6a': 4, '6b': 4, '6c': 4, '8': 5, B: 6 });
    const files = listProjectConfigs('align-detr').filter((n) => n.startsWith('ablations/')).map((n) => n.slice('ablations/'.length));
    expect(files.sort()).toEqual(rows.map((r) => r.name).sort());
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it('rows that are the paper default (k 3, alpha 0.25, tau 1.5, IA-BCE) have no overrides', () => {
    const defaults = rows.filter((r) => Object.keys(r.settings).length === 0).map((r) => r.name);
    expect(defaults.sort()).toEqual(['table5_iabce_on_mixed_on', 'table6a_alpha025', 'table6b_k3', 'table6c_tau15', 'table8_k3_ps_on'].sort());
    for (const name of defaults) expect(rows.find((r) => r.name === name)!.overrides).toEqual([]);
  });

  it('an unknown row name is an error listing the rows', () => {
    expect(() => applyAblation(base, 'table9_nothing')).toThrow(/unknown ablation row "table9_nothing"; rows: table4_focal, /);
  });
});

describe.each(rows.map((r) => [r.name, r] as const))('row %s', (name, row) => {
  it('its config differs from the base exactly where the row says', async () => {
    const rowCfg = plain(await loadConfigFile(join(CONFIGS, 'ablations', `${name}.ts`)));
    const baseCfg = plain(base);
    const diff = plainDiff(baseCfg, rowCfg);
    expect(unexplainedDiff(diff, [...row.overrides.map(overridePath), 'train.output_dir'])).toEqual({ uncovered: [], idle: [] });
    expect(rowCfg.train.output_dir).toBe(`${baseCfg.train.output_dir}/ablations/${name}`);
    expectRowSettings(rowCfg, row, 6);
  });

  it('applies to the small MNIST config (3 decoder layers) the same way', () => {
    const lines = ablationOverrides(small, name);
    const smallCfg = plain(small);
    const applied = plain(applyAblation(small, name));
    const diff = plainDiff(smallCfg, applied);
    expect(unexplainedDiff(diff, [...lines.map(overridePath), 'train.output_dir'])).toEqual({ uncovered: [], idle: [] });
    // The small base is k = 2: a row that does not name k still gets the paper's k = 3.
    expectRowSettings(applied, row, 3);
  });
});

describe('the small MNIST configs of DINO and Align-DETR', () => {
  it('differ only in the detector class, the criterion and the output folder', async () => {
    const dino = plain(await loadConfigFile(join(REPO_ROOT, 'projects/dino/configs/dino_small_mnist.ts')));
    const align = plain(small);
    const diff = plainDiff(dino, align);
    // prior_init (Align-DETR's name, 0.01) is DINO's default prior_prob; input_format 'RGB' is AlignDETR's default.
    expect(unexplainedDiff(diff, ['model._target_', 'model.criterion', 'model.prior_init', 'model.input_format', 'train.output_dir'])).toEqual({ uncovered: [], idle: [] });
    expect(dino.model.input_format).toBe('RGB');
    expect(align.model.prior_init).toBe(0.01);
    expect(align.model.criterion.match_num).toEqual([2, 2, 2, 1]);
  });
});
