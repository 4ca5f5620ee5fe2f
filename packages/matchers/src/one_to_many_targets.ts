/**
 * H-DETR's one-to-many branch (detrex `projects/h_deformable_detr/modeling/h_deformable_detr.py`,
 * `train_hybrid`): every image's targets repeated k times (`boxes.repeat(k, 1)`, `labels.repeat(k)`:
 * gt0..gt(n-1), gt0..), then matched by the ordinary one-to-one Hungarian matcher.
 */
import type { DetectionTarget } from './targets';

export function repeatTargets(targets: readonly DetectionTarget[], k: number): DetectionTarget[] {
  if (!Number.isInteger(k) || k < 1) throw new Error(`repeatTargets: k_one2many must be an integer >= 1, got ${k}`);
  return targets.map((t) => {
    const n = t.labels.length;
    const labels = new Int32Array(n * k);
    const boxes = new Float32Array(n * k * 4);
    for (let r = 0; r < k; r++) {
      labels.set(t.labels, r * n);
      boxes.set(t.boxes, r * n * 4);
    }
    return { labels, boxes };
  });
}
