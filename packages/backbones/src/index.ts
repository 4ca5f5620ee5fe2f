// @detr/backbones: ResNet 18/34/50/101/152 in detectron2's layout, weight key maps, pixel
// normalisation, and the necks (detrex ChannelMapper, DAB-DETR input projection).
export * from './shape_spec';
export * from './norm';
export * from './conv_norm';
export * from './cnn_block_base';
export * from './basic_stem';
export * from './basic_block';
export * from './bottleneck_block';
export * from './resnet_stages';
export * from './resnet';
export * from './weight_keys';
export * from './load_resnet_weights';
export * from './pixel_normalizer';
export * from './conv_norm_act';
export * from './channel_mapper';
export * from './input_projection';
export * from './frozen_prefix';
export * from './checkpoint_converters';
