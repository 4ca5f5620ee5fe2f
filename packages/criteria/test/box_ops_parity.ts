/**
 * The box_ops parity checks (fixtures/parity/README.md section 4) against @detr/core's box ops, on one
 * backend: box_ops.test.ts runs them on cpu, box_ops.wasm.test.ts on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { boxArea, boxCxcywhToXyxy, boxIou, boxXyxyToCxcywh, generalizedBoxIou, pairedIouGiou } from '@detr/core';
import { HeadroomLog, RTOL, fixtureRaw, fixtureTensor, reportHeadroom, useTestBackend, type TestBackend } from '@detr/core/testing';

const F = 'box_ops';
const t = (key: string) => fixtureTensor(F, key);
const ref = (key: string) => fixtureRaw(F, key);

export function describeBoxOpsParity(backend: TestBackend): void {
  const log = new HeadroomLog(F, backend);
  const close = log.close;

  describe(`box ops against box_ops (detrex box_ops.py), ${backend} backend`, () => {
    beforeAll(async () => {
      await useTestBackend(backend);
    });
    afterAll(() => reportHeadroom(log));

    it('converts cxcywh <-> xyxy, also batched', () => {
      tf.tidy(() => {
        close(boxCxcywhToXyxy(t('boxes1_cxcywh')), ref('boxes1_xyxy'), RTOL.activation, 'boxes1_xyxy');
        close(boxCxcywhToXyxy(t('boxes2_cxcywh')), ref('boxes2_xyxy'), RTOL.activation, 'boxes2_xyxy');
        close(boxCxcywhToXyxy(t('boxes3_cxcywh')), ref('boxes3_xyxy'), RTOL.activation, 'boxes3_xyxy');
        close(boxXyxyToCxcywh(t('boxes1_xyxy')), ref('boxes1_cxcywh_roundtrip'), RTOL.activation, 'boxes1_cxcywh_roundtrip');
      });
    });

    it('areas, IoU with union (+1e-6), GIoU (+1e-6) including the special rows', () => {
      tf.tidy(() => {
        const a = t('boxes1_xyxy') as tf.Tensor2D;
        const b = t('boxes2_xyxy') as tf.Tensor2D;
        close(boxArea(a), ref('area1'), RTOL.activation, 'area1');
        close(boxArea(b), ref('area2'), RTOL.activation, 'area2');
        const [iou, union] = boxIou(a, b);
        close(iou, ref('iou'), RTOL.activation, 'iou');
        close(union, ref('union'), RTOL.activation, 'union');
        close(generalizedBoxIou(a, b), ref('giou'), RTOL.activation, 'giou');
        close(generalizedBoxIou(a, a), ref('giou_self'), RTOL.activation, 'giou_self');
      });
    });

    it('pairedIouGiou equals the diagonal of the pairwise ops', () => {
      tf.tidy(() => {
        const a = t('boxes1_xyxy') as tf.Tensor2D;
        const { iou, giou } = pairedIouGiou(a.slice([0, 0], [9, 4]), t('boxes2_xyxy') as tf.Tensor2D);
        const diag = (m: Float32Array, cols: number, n = 9) => Array.from({ length: n }, (_, i) => m[i * cols + i]);
        close(iou, diag(ref('iou').data as Float32Array, 9), RTOL.activation, 'paired iou');
        close(giou, diag(ref('giou').data as Float32Array, 9), RTOL.activation, 'paired giou');
        const self = pairedIouGiou(a, a);
        close(self.giou, diag(ref('giou_self').data as Float32Array, 12, 12), RTOL.activation, 'paired giou self');
      });
    });
  });
}
