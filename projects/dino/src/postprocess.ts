/**
 * DINO's inference (detrex `projects/dino/modeling/dino.py::DINO.inference`, then detectron2
 * `modeling/postprocessing.py::detector_postprocess`) is the post-processing every DETR here shares:
 * top-k of sigmoid(logits) over queries x classes, no NMS, boxes rescaled to the original image
 * (`@detr/engine` postprocess.ts). Kept under DINO's names for the projects built on it.
 */
export { topkDetections as dinoInference, type TopkDetections as Detections } from '@detr/engine';
