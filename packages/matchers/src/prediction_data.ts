/**
 * Predictions pulled off the tensors for matching (detrex matches under `torch.no_grad()` on the CPU):
 * one `dataSync` per output, shape checks, and a NaN/Infinity scan whose error names the layer, so a
 * diverged step fails clearly instead of reaching the assignment solver.
 */
import * as tf from '@tensorflow/tfjs';

/** One detector output as tensors: `pred_logits [B,Q,C]`, `pred_boxes [B,Q,4]` (normalised cxcywh). */
export interface PredictionTensors {
  pred_logits: tf.Tensor;
  pred_boxes: tf.Tensor;
}

export interface PredictionData {
  /** Name of the output in errors (`pred_logits` of `aux_outputs[2]`, `enc_outputs`, ...). */
  layer: string;
  batchSize: number;
  numQueries: number;
  numClasses: number;
  /** [B*Q*C] row-major. */
  logits: Float32Array;
  /** [B*Q*4] row-major, cxcywh. */
  boxes: Float32Array;
}

function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

function unflatIndex(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return idx.join(', ');
}

/** Checks shapes and values of one output and copies them to the CPU. */
export function readPredictions(output: PredictionTensors, layer: string): PredictionData {
  if (!output || !(output.pred_logits instanceof tf.Tensor) || !(output.pred_boxes instanceof tf.Tensor)) {
    throw new Error(`${layer}: expected {pred_logits, pred_boxes} tensors`);
  }
  const { pred_logits: logitsT, pred_boxes: boxesT } = output;
  if (logitsT.rank !== 3) throw new Error(`${layer}: pred_logits must be [B, Q, C], got shape [${logitsT.shape.join(', ')}]`);
  const [batchSize, numQueries, numClasses] = logitsT.shape;
  if (boxesT.rank !== 3 || boxesT.shape[0] !== batchSize || boxesT.shape[1] !== numQueries || boxesT.shape[2] !== 4) {
    throw new Error(`${layer}: pred_boxes must be [${batchSize}, ${numQueries}, 4] to go with pred_logits, got [${boxesT.shape.join(', ')}]`);
  }
  const logits = logitsT.dataSync() as Float32Array;
  const boxes = boxesT.dataSync() as Float32Array;
  const badLogit = firstNonFinite(logits);
  if (badLogit >= 0) {
    throw new Error(`${layer}: pred_logits[${unflatIndex(badLogit, logitsT.shape)}] is ${logits[badLogit]}; the matcher needs finite predictions (the model diverged?)`);
  }
  const badBox = firstNonFinite(boxes);
  if (badBox >= 0) {
    throw new Error(`${layer}: pred_boxes[${unflatIndex(badBox, boxesT.shape)}] is ${boxes[badBox]}; the matcher needs finite predictions (the model diverged?)`);
  }
  return { layer, batchSize, numQueries, numClasses, logits, boxes };
}
