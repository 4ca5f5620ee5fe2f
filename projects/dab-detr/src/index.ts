// @detr/dab-detr: DAB-DETR (detrex projects/dab_detr) on @detr parts.
export * from './options';
export * from './conditional_decoder_layer';
export * from './dab_transformer_encoder';
export * from './dab_transformer_decoder';
export * from './dab_transformer';
export * from './dab_detr';
