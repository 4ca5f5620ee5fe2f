export * from './proposal_pos_embed';
export * from './hybrid_attn_mask';
export * from './h_deformable_encoder';
export * from './h_deformable_decoder';
export * from './h_deformable_transformer';
export * from './h_deformable_detr';
