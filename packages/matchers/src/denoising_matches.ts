/**
 * DINO's fixed denoising assignment (detrex `projects/dino/modeling/dn_criterion.py`,
 * `compute_dn_loss`; the same in Align-DETR's `aligndetr_dn_criterion.py`): in DN group g the positive
 * query of GT j is `g*single_padding + j`; pairs are group-major `(g*sp + j, j)` for g < dn_num,
 * j < n. Negative and padding DN queries stay unmatched (background).
 */
import type { ImageMatch } from './match_result';

export interface DnMeta {
  /** Queries per DN group (2 * max GT per image: positives then negatives). */
  single_padding: number;
  /** Number of DN groups. */
  dn_num: number;
}

export function denoisingMatches(targets: readonly { labels: ArrayLike<number> }[], dnMeta: DnMeta): ImageMatch[] {
  const { single_padding: sp, dn_num: groups } = dnMeta;
  if (!Number.isInteger(sp) || sp < 0 || !Number.isInteger(groups) || groups < 0) {
    throw new Error(`denoisingMatches: dn_meta.single_padding (${sp}) and dn_meta.dn_num (${groups}) must be non-negative integers`);
  }
  return targets.map(({ labels }, b) => {
    const n = labels.length;
    if (n > sp) throw new Error(`denoisingMatches: image ${b} has ${n} GT boxes but dn_meta.single_padding is ${sp}; DN groups would overlap`);
    const src = new Int32Array(groups * n);
    const tgt = new Int32Array(groups * n);
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < n; j++) {
        src[g * n + j] = g * sp + j;
        tgt[g * n + j] = j;
      }
    }
    return { src, tgt };
  });
}
