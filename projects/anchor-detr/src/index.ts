// @detr/anchor-detr: Anchor DETR (megvii-research/AnchorDETR) on @detr parts.
export * from './options';
export * from './anchor_positions';
export * from './anchor_ffn';
export * from './position_adapter';
export * from './rcda_encoder_layer';
export * from './rcda_decoder_layer';
export * from './anchor_transformer';
export * from './official_keys';
export * from './anchor_detr';
