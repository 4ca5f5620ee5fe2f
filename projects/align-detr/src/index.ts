// @detr/align-detr: Align-DETR (DINO + MixedMatcher + IA-BCE with prime sample weighting) and the
// IoU-branch variant of the paper's Table 4.
export * from './align_detr';
export * from './iou_branch_detr';
export * from './match_num';
