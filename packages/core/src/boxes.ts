/**
 * Box operations on tensors whose last dimension is 4 (detrex `detrex/layers/box_ops.py`,
 * torchvision `box_area`). Boxes are normalised (cx, cy, w, h) or (x1, y1, x2, y2).
 */
import * as tf from '@tensorflow/tfjs';

/** (cx, cy, w, h) -> (x1, y1, x2, y2); any leading shape [..., 4]. */
export function boxCxcywhToXyxy(boxes: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [cx, cy, w, h] = tf.unstack(boxes, -1);
    const hw = w.mul(0.5);
    const hh = h.mul(0.5);
    return tf.stack([cx.sub(hw), cy.sub(hh), cx.add(hw), cy.add(hh)], -1);
  });
}

/** (x1, y1, x2, y2) -> (cx, cy, w, h); any leading shape [..., 4]. */
export function boxXyxyToCxcywh(boxes: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.unstack(boxes, -1);
    return tf.stack([x1.add(x2).div(2), y1.add(y2).div(2), x2.sub(x1), y2.sub(y1)], -1);
  });
}

/** Area of xyxy boxes [..., 4] -> [...]. */
export function boxArea(boxesXyxy: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.unstack(boxesXyxy, -1);
    return x2.sub(x1).mul(y2.sub(y1));
  });
}

/**
 * Pairwise IoU of xyxy boxes a [N,4] and b [M,4] (detrex `box_iou`): returns [iou, union], both [N,M],
 * with iou = inter / (union + 1e-6).
 */
export function boxIou(a: tf.Tensor2D, b: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const areaA = boxArea(a).expandDims(1); // [N,1]
    const areaB = boxArea(b).expandDims(0); // [1,M]
    const aE = a.expandDims(1); // [N,1,4]
    const bE = b.expandDims(0); // [1,M,4]
    const lt = tf.maximum(aE.slice([0, 0, 0], [-1, -1, 2]), bE.slice([0, 0, 0], [-1, -1, 2])); // [N,M,2]
    const rb = tf.minimum(aE.slice([0, 0, 2], [-1, -1, 2]), bE.slice([0, 0, 2], [-1, -1, 2])); // [N,M,2]
    const wh = tf.relu(rb.sub(lt)); // clamp(min=0)
    const [w, h] = tf.unstack(wh, -1);
    const inter = w.mul(h);
    const union = areaA.add(areaB).sub(inter);
    return [inter.div(union.add(1e-6)) as tf.Tensor2D, union as tf.Tensor2D];
  });
}

/**
 * Pairwise generalized IoU of xyxy boxes a [N,4], b [M,4] -> [N,M] (detrex `generalized_box_iou`):
 * iou - (E - union) / (E + 1e-6), E the area of the smallest enclosing box.
 */
export function generalizedBoxIou(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [iou, union] = boxIou(a, b);
    const aE = a.expandDims(1);
    const bE = b.expandDims(0);
    const lt = tf.minimum(aE.slice([0, 0, 0], [-1, -1, 2]), bE.slice([0, 0, 0], [-1, -1, 2]));
    const rb = tf.maximum(aE.slice([0, 0, 2], [-1, -1, 2]), bE.slice([0, 0, 2], [-1, -1, 2]));
    const wh = tf.relu(rb.sub(lt));
    const [w, h] = tf.unstack(wh, -1);
    const enclosing = w.mul(h);
    return iou.sub(enclosing.sub(union).div(enclosing.add(1e-6))) as tf.Tensor2D;
  });
}

/**
 * Element-wise (paired) IoU and GIoU of xyxy boxes a [N,4], b [N,4] -> [N] each; the diagonal of the
 * pairwise versions without building the [N,N] matrices.
 */
export function pairedIouGiou(a: tf.Tensor2D, b: tf.Tensor2D): { iou: tf.Tensor1D; giou: tf.Tensor1D } {
  return tf.tidy(() => {
    const [ax1, ay1, ax2, ay2] = tf.unstack(a, -1);
    const [bx1, by1, bx2, by2] = tf.unstack(b, -1);
    const areaA = ax2.sub(ax1).mul(ay2.sub(ay1));
    const areaB = bx2.sub(bx1).mul(by2.sub(by1));
    const iw = tf.relu(tf.minimum(ax2, bx2).sub(tf.maximum(ax1, bx1)));
    const ih = tf.relu(tf.minimum(ay2, by2).sub(tf.maximum(ay1, by1)));
    const inter = iw.mul(ih);
    const union = areaA.add(areaB).sub(inter);
    const iou = inter.div(union.add(1e-6));
    const ew = tf.relu(tf.maximum(ax2, bx2).sub(tf.minimum(ax1, bx1)));
    const eh = tf.relu(tf.maximum(ay2, by2).sub(tf.minimum(ay1, by1)));
    const enclosing = ew.mul(eh);
    const giou = iou.sub(enclosing.sub(union).div(enclosing.add(1e-6)));
    return { iou: iou as tf.Tensor1D, giou: giou as tf.Tensor1D };
  });
}

/** inverse_sigmoid with clamping (detrex `detrex/utils/misc.py`, eps 1e-3 by default). */
export function inverseSigmoid(x: tf.Tensor, eps = 1e-3): tf.Tensor {
  return tf.tidy(() => {
    const c = x.clipByValue(0, 1);
    const x1 = c.maximum(eps);
    const x2 = tf.scalar(1).sub(c).maximum(eps);
    return tf.log(x1.div(x2));
  });
}
