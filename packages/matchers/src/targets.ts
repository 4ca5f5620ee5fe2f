/**
 * Ground truth of one image as the matchers and criteria take it (detrex's per-image target dict):
 * `labels` are class indices 0..C-1, `boxes` are normalised (cx, cy, w, h), n*4 values row-major.
 */
export interface DetectionTarget {
  labels: Int32Array;
  boxes: Float32Array;
}

/**
 * Checks a batch of targets against the predictions they are matched with: one target per image,
 * labels integral in [0, numClasses), boxes finite with w, h >= 0 (detrex's `generalized_box_iou`
 * asserts valid xyxy boxes). Errors name the caller, the image and the field.
 */
export function validateTargets(targets: readonly DetectionTarget[], batchSize: number, numClasses: number, where: string): void {
  if (!Array.isArray(targets)) throw new Error(`${where}: targets must be an array of {labels, boxes}, one per image`);
  if (targets.length !== batchSize) {
    throw new Error(`${where}: ${targets.length} targets for a batch of ${batchSize} images`);
  }
  targets.forEach((t, b) => {
    if (!t || typeof t !== 'object' || !t.labels || !t.boxes) {
      throw new Error(`${where}: targets[${b}] must be {labels: Int32Array, boxes: Float32Array}`);
    }
    const n = t.labels.length;
    if (t.boxes.length !== 4 * n) {
      throw new Error(`${where}: targets[${b}] has ${n} labels but ${t.boxes.length} box values (expected ${4 * n})`);
    }
    for (let j = 0; j < n; j++) {
      const c = t.labels[j];
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
        throw new Error(`${where}: targets[${b}].labels[${j}] = ${c} is not a class index in [0, ${numClasses})`);
      }
      for (let k = 0; k < 4; k++) {
        const v = t.boxes[4 * j + k];
        if (!Number.isFinite(v)) throw new Error(`${where}: targets[${b}].boxes[${j}][${k}] is ${v}; boxes must be finite`);
        if (k >= 2 && v < 0) throw new Error(`${where}: targets[${b}].boxes[${j}] has negative ${k === 2 ? 'width' : 'height'} ${v}`);
      }
    }
  });
}

/** Total number of GT boxes in the batch. */
export function countTargets(targets: readonly DetectionTarget[]): number {
  let n = 0;
  for (const t of targets) n += t.labels.length;
  return n;
}

/**
 * Per-image targets from the concatenated form (fixtures/parity/README.md section 1: `tgt_sizes [B]`,
 * `tgt_labels [T]`, `tgt_boxes [T*4]`; image b owns rows sum(sizes[:b]) .. +sizes[b]).
 */
export function splitTargets(sizes: ArrayLike<number>, labels: ArrayLike<number>, boxes: ArrayLike<number>): DetectionTarget[] {
  let total = 0;
  for (let b = 0; b < sizes.length; b++) total += sizes[b];
  if (labels.length !== total || boxes.length !== 4 * total) {
    throw new Error(`splitTargets: sizes add up to ${total} but there are ${labels.length} labels and ${boxes.length} box values`);
  }
  const out: DetectionTarget[] = [];
  let at = 0;
  for (let b = 0; b < sizes.length; b++) {
    const n = sizes[b];
    out.push({ labels: Int32Array.from({ length: n }, (_, j) => labels[at + j]), boxes: Float32Array.from({ length: 4 * n }, (_, i) => boxes[4 * at + i]) });
    at += n;
  }
  return out;
}
