/**
 * Positions in Anchor DETR (official `models/transformer.py`: `mask2pos`, `pos2posemb1d`, `pos2posemb2d`,
 * the "grid" spatial prior). Positions are normalised to [0, 1] and embedded with sines; learned MLPs
 * (`adapt_pos1d`, `adapt_pos2d`) then adapt them (section 3.2 of the paper, "anchor points" encoded as
 * object queries).
 */
import * as tf from '@tensorflow/tfjs';
import { getSinePosEmbed, sineDimT } from '@detr/transformers';

/**
 * `mask2pos`: mask [B,H,W] bool (true = padding, bottom / right) -> row positions [B,W] (x of each column,
 * from the first row) and column positions [B,H] (y of each row, from the first column), each
 * (cumsum(valid) - 0.5) / number of valid cells, i.e. pixel centres in [0, 1] of the unpadded image.
 */
export function maskToPositions(mask: tf.Tensor3D): { posRow: tf.Tensor2D; posCol: tf.Tensor2D } {
  if (mask.rank !== 3) throw new Error(`maskToPositions: mask must be [B,H,W], got [${mask.shape}]`);
  return tf.tidy(() => {
    const [b, h, w] = mask.shape;
    const valid = tf.logicalNot(mask.cast('bool')).cast('float32'); // [B,H,W]
    const y = tf.cumsum(valid.slice([0, 0, 0], [b, h, 1]).reshape([b, h]), 1); // [B,H]
    const x = tf.cumsum(valid.slice([0, 0, 0], [b, 1, w]).reshape([b, w]), 1); // [B,W]
    const yLast = y.slice([0, h - 1], [b, 1]);
    const xLast = x.slice([0, w - 1], [b, 1]);
    return { posRow: x.sub(0.5).div(xLast) as tf.Tensor2D, posCol: y.sub(0.5).div(yLast) as tf.Tensor2D };
  });
}

/**
 * `pos2posemb1d`: positions [...] -> [..., numFeats], channel i = sin (even i) / cos (odd i) of
 * p*2pi/10000^(2floor(i/2)/F). Upstream uses F = 256 (= d_model); here the caller passes d_model.
 * (Not getSinePosEmbed on a [..., 1] tensor: tfjs 4.22's gradient of unstack along a size-1 axis fails.)
 */
export function posEmbed1d(pos: tf.Tensor, numFeats: number): tf.Tensor {
  if (numFeats % 2 !== 0) throw new Error(`posEmbed1d: numFeats must be even, got ${numFeats}`);
  return tf.tidy(() => {
    const angles = pos.expandDims(-1).mul(2 * Math.PI).div(tf.tensor1d(sineDimT(numFeats, 10000))); // [..., F]
    const shape = angles.shape;
    const [even, odd] = tf.unstack(angles.reshape([...shape.slice(0, -1), numFeats / 2, 2]), -1); // 2 x [..., F/2]
    return tf.stack([tf.sin(even), tf.cos(odd)], -1).reshape(shape); // interleaved [..., F]
  });
}

/**
 * `pos2posemb2d`: points [..., 2] (x, y) -> [..., 2F] = [emb(y), emb(x)]. Upstream uses F = 128
 * (d_model / 2); here the caller passes d_model / 2.
 */
export function posEmbed2d(points: tf.Tensor, numFeatsPerAxis: number): tf.Tensor {
  return tf.tidy(() => getSinePosEmbed(points, { num_pos_feats: numFeatsPerAxis, exchange_xy: true }));
}

/**
 * The "grid" spatial prior: n = round(sqrt(numPosition)) points per axis at ((i + 0.5) / n, (j + 0.5) / n),
 * ordered x-major as upstream's `torch.meshgrid(x, y)` flattening gives: point i*n + j = (x_i, y_j).
 * Upstream then uses n*n anchors (e.g. 289 for num_query_position 300).
 */
export function gridAnchorPoints(numPosition: number): { points: Float32Array; count: number } {
  const n = Math.round(Math.sqrt(numPosition));
  if (n < 1) throw new Error(`gridAnchorPoints: num_query_position ${numPosition} gives an empty grid`);
  const points = new Float32Array(n * n * 2);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      points[(i * n + j) * 2] = (i + 0.5) / n;
      points[(i * n + j) * 2 + 1] = (j + 0.5) / n;
    }
  }
  return { points, count: n * n };
}
