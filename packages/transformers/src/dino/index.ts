export * from './reference_points';
export * from './encoder_proposals';
export * from './dino_encoder';
export * from './deformable_decoder_parts';
export * from './dino_decoder';
export * from './two_stage_encoding';
export * from './dino_transformer';
