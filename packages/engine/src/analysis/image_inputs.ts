/**
 * One image's detector outputs and ground truth as plain arrays (what the alignment metrics read),
 * with the shape / range checks every metric relies on. Errors name the image and the field.
 */

/** One image's final-layer outputs: `pred_logits[b]` and `pred_boxes[b]` of the detector dict. */
export interface ImagePredictions {
  /** [numQueries * numClasses] class logits, row-major. */
  logits: ArrayLike<number>;
  /** [numQueries * 4] normalised cxcywh. */
  boxes: ArrayLike<number>;
  numQueries: number;
  numClasses: number;
}

/** One image's ground truth: labels 0..C-1 and n*4 normalised cxcywh boxes (the batch's targets[b]). */
export interface ImageTargets {
  labels: ArrayLike<number>;
  boxes: ArrayLike<number>;
}

/** A one-to-one matching of the image: query src[k] is matched to GT tgt[k] (@detr/matchers ImageMatch). */
export interface ImageMatchPairs {
  src: ArrayLike<number>;
  tgt: ArrayLike<number>;
}

export function checkImageInputs(pred: ImagePredictions, target: ImageTargets, where: string): void {
  const { numQueries: q, numClasses: c } = pred;
  if (!Number.isInteger(q) || q < 1) throw new Error(`${where}: numQueries must be a positive integer, got ${q}`);
  if (!Number.isInteger(c) || c < 1) throw new Error(`${where}: numClasses must be a positive integer, got ${c}`);
  if (pred.logits.length !== q * c) throw new Error(`${where}: logits has ${pred.logits.length} values, expected numQueries*numClasses = ${q * c}`);
  if (pred.boxes.length !== q * 4) throw new Error(`${where}: boxes has ${pred.boxes.length} values, expected numQueries*4 = ${q * 4}`);
  for (let i = 0; i < pred.logits.length; i++) {
    if (Number.isNaN(pred.logits[i])) throw new Error(`${where}: logits[query ${Math.floor(i / c)}, class ${i % c}] is NaN`);
  }
  for (let i = 0; i < pred.boxes.length; i++) {
    if (!Number.isFinite(pred.boxes[i])) throw new Error(`${where}: boxes[query ${i >> 2}][${i & 3}] is ${pred.boxes[i]}`);
  }
  const n = target.labels.length;
  if (target.boxes.length !== n * 4) throw new Error(`${where}: the target has ${n} labels but ${target.boxes.length} box values (expected ${n * 4})`);
  for (let j = 0; j < n; j++) {
    const l = target.labels[j];
    if (!Number.isInteger(l) || l < 0 || l >= c) throw new Error(`${where}: target label ${j} is ${l}, not a class index in [0, ${c})`);
    for (let k = 0; k < 4; k++) {
      const v = target.boxes[4 * j + k];
      if (!Number.isFinite(v) || (k >= 2 && v < 0)) throw new Error(`${where}: target box ${j} has ${['cx', 'cy', 'w', 'h'][k]} = ${v}`);
    }
  }
}

export function checkMatch(match: ImageMatchPairs, numQueries: number, numGt: number, where: string): void {
  if (match.src.length !== match.tgt.length) throw new Error(`${where}: the match has ${match.src.length} query indices but ${match.tgt.length} GT indices`);
  for (let k = 0; k < match.src.length; k++) {
    const q = match.src[k], g = match.tgt[k];
    if (!Number.isInteger(q) || q < 0 || q >= numQueries) throw new Error(`${where}: match pair ${k} has query ${q}, not in [0, ${numQueries})`);
    if (!Number.isInteger(g) || g < 0 || g >= numGt) throw new Error(`${where}: match pair ${k} has GT ${g}, not in [0, ${numGt})`);
  }
}
