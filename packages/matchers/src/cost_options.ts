/**
 * Options shared by the Hungarian and mixed matchers (detrex `HungarianMatcher.__init__`, with DINO's
 * config values 2 / 5 / 2 as defaults: `projects/dino/configs/models/dino_r50.py`).
 */
import type { MatchCostWeights } from './match_cost';
import { numberOption } from './options';

export interface MatchCostOptions {
  cost_class?: number;
  cost_bbox?: number;
  cost_giou?: number;
  /** Only detrex's `focal_loss_cost` is implemented (every DETR here uses sigmoid classification). */
  cost_class_type?: 'focal_loss_cost';
  alpha?: number;
  gamma?: number;
}

export const MATCH_COST_KEYS = ['cost_class', 'cost_bbox', 'cost_giou', 'cost_class_type', 'alpha', 'gamma'] as const;

export function parseMatchCostOptions(part: string, opts: MatchCostOptions): MatchCostWeights {
  const nonNegative = (v: number) => v >= 0 && Number.isFinite(v);
  const w: MatchCostWeights = {
    costClass: numberOption(part, 'cost_class', opts.cost_class, 2, nonNegative, 'a finite number >= 0'),
    costBbox: numberOption(part, 'cost_bbox', opts.cost_bbox, 5, nonNegative, 'a finite number >= 0'),
    costGiou: numberOption(part, 'cost_giou', opts.cost_giou, 2, nonNegative, 'a finite number >= 0'),
    alpha: numberOption(part, 'alpha', opts.alpha, 0.25, (v) => v >= 0 && v <= 1, 'in [0, 1]'),
    gamma: numberOption(part, 'gamma', opts.gamma, 2, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0'),
  };
  const type = opts.cost_class_type ?? 'focal_loss_cost';
  if (type !== 'focal_loss_cost') throw new Error(`${part}: cost_class_type "${type}" is not supported; only "focal_loss_cost"`);
  // detrex: assert cost_class != 0 or cost_bbox != 0 or cost_giou != 0, "all costs cant be 0"
  if (w.costClass === 0 && w.costBbox === 0 && w.costGiou === 0) throw new Error(`${part}: cost_class, cost_bbox and cost_giou cannot all be 0`);
  return w;
}
