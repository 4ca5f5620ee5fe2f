import { bboxIou } from './bbox-iou';
import type { CocoAnnotation, IouType } from './types';

/**
 * The region type behind COCOeval's IoU (pycocotools `computeIoU` → `maskUtils.iou`). COCOeval sees only this
 * interface, so 'segm' (RLE masks, maskApi.c `rleIou`, same crowd rule) can be added as one more
 * implementation without touching grouping, matching or accumulation.
 */
export interface RegionGeometry {
  readonly iouType: IouType;
  /**
   * IoU of detection rows `dtStart..dtStart+nDt` against ground-truth rows `gtStart..gtStart+nGt` (rows of the
   * arrays the geometry was built from), written to `out[d * nGt + g]`; `crowd[gtStart + g]` marks crowd ground truths,
   * which are scored by intersection over the detection's region.
   */
  iou(dtStart: number, nDt: number, gtStart: number, nGt: number, crowd: Uint8Array, out: Float64Array): void;
}

/** Boxes of annotations `[x, y, w, h]` packed into one array, 4 numbers a row. */
function packBoxes(anns: readonly CocoAnnotation[]): Float64Array {
  const boxes = new Float64Array(anns.length * 4);
  for (let i = 0; i < anns.length; i++) {
    const b = anns[i].bbox;
    boxes[4 * i] = b[0];
    boxes[4 * i + 1] = b[1];
    boxes[4 * i + 2] = b[2];
    boxes[4 * i + 3] = b[3];
  }
  return boxes;
}

class BboxGeometry implements RegionGeometry {
  readonly iouType = 'bbox' as const;
  private readonly dtBoxes: Float64Array;
  private readonly gtBoxes: Float64Array;

  constructor(dts: readonly CocoAnnotation[], gts: readonly CocoAnnotation[]) {
    this.dtBoxes = packBoxes(dts);
    this.gtBoxes = packBoxes(gts);
  }

  iou(dtStart: number, nDt: number, gtStart: number, nGt: number, crowd: Uint8Array, out: Float64Array): void {
    bboxIou(this.dtBoxes, dtStart, nDt, this.gtBoxes, gtStart, nGt, crowd, out);
  }
}

/** The geometry for `iouType` over detections and ground truths given in evaluation-row order. */
export function createRegionGeometry(iouType: IouType, dts: readonly CocoAnnotation[], gts: readonly CocoAnnotation[]): RegionGeometry {
  if (iouType === 'bbox') return new BboxGeometry(dts, gts);
  throw new Error(`iouType '${iouType}' is not implemented yet: add a RegionGeometry for it in region-geometry.ts`);
}
