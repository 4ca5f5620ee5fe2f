/**
 * H-DETR's deformable encoder (detrex `projects/h_deformable_detr/modeling/h_deformable_transformer.py::
 * HDeformableDetrTransformerEncoder`): num_layers x [MSDeformAttn self-attention -> LayerNorm -> FFN ->
 * LayerNorm], optional final LayerNorm (`post_norm_layer`). Upstream it is line for line the DINO encoder
 * (same modules, keys and forward), so this is @detr/transformers' DINOTransformerEncoder under the
 * H-DETR registry name.
 */
import { register } from '@detr/registry';
import { DINOTransformerEncoder, type DINOTransformerEncoderOptions } from '@detr/transformers';

export type HDeformableDetrTransformerEncoderOptions = Omit<DINOTransformerEncoderOptions, 'use_checkpoint'>;

@register('encoder', 'h_deformable_detr')
export class HDeformableDetrTransformerEncoder extends DINOTransformerEncoder {
  constructor(opts: HDeformableDetrTransformerEncoderOptions = {}) {
    super(opts);
  }
}
