// The box_ops parity fixture (fixtures/parity/README.md section 4) against @detr/core's box ops.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, it } from 'vitest';
import { boxArea, boxCxcywhToXyxy, boxIou, boxXyxyToCxcywh, generalizedBoxIou, pairedIouGiou } from '@detr/core';
import { expectClose, fixtureRaw, fixtureTensor, RTOL } from '@detr/core/testing';

const F = 'box_ops';
const t = (key: string) => fixtureTensor(F, key);
const ref = (key: string) => fixtureRaw(F, key);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('box ops against box_ops (detrex box_ops.py)', () => {
  it('converts cxcywh <-> xyxy, also batched', () => {
    tf.tidy(() => {
      expectClose(boxCxcywhToXyxy(t('boxes1_cxcywh')), ref('boxes1_xyxy'), RTOL.activation, 'boxes1_xyxy');
      expectClose(boxCxcywhToXyxy(t('boxes2_cxcywh')), ref('boxes2_xyxy'), RTOL.activation, 'boxes2_xyxy');
      expectClose(boxCxcywhToXyxy(t('boxes3_cxcywh')), ref('boxes3_xyxy'), RTOL.activation, 'boxes3_xyxy');
      expectClose(boxXyxyToCxcywh(t('boxes1_xyxy')), ref('boxes1_cxcywh_roundtrip'), RTOL.activation, 'boxes1_cxcywh_roundtrip');
    });
  });

  it('areas, IoU with union (+1e-6), GIoU (+1e-6) including the special rows', () => {
    tf.tidy(() => {
      const a = t('boxes1_xyxy') as tf.Tensor2D;
      const b = t('boxes2_xyxy') as tf.Tensor2D;
      expectClose(boxArea(a), ref('area1'), RTOL.activation, 'area1');
      expectClose(boxArea(b), ref('area2'), RTOL.activation, 'area2');
      const [iou, union] = boxIou(a, b);
      expectClose(iou, ref('iou'), RTOL.activation, 'iou');
      expectClose(union, ref('union'), RTOL.activation, 'union');
      expectClose(generalizedBoxIou(a, b), ref('giou'), RTOL.activation, 'giou');
      expectClose(generalizedBoxIou(a, a), ref('giou_self'), RTOL.activation, 'giou_self');
    });
  });

  it('pairedIouGiou equals the diagonal of the pairwise ops', () => {
    tf.tidy(() => {
      const a = t('boxes1_xyxy') as tf.Tensor2D;
      const { iou, giou } = pairedIouGiou(a.slice([0, 0], [9, 4]), t('boxes2_xyxy') as tf.Tensor2D);
      const diag = (m: Float32Array, cols: number, n = 9) => Array.from({ length: n }, (_, i) => m[i * cols + i]);
      expectClose(iou, diag(ref('iou').data as Float32Array, 9), RTOL.activation, 'paired iou');
      expectClose(giou, diag(ref('giou').data as Float32Array, 9), RTOL.activation, 'paired giou');
      const self = pairedIouGiou(a, a);
      expectClose(self.giou, diag(ref('giou_self').data as Float32Array, 12, 12), RTOL.activation, 'paired giou self');
    });
  });
});
