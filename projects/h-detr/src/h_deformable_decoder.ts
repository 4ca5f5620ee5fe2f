/**
 * H-DETR's decoder (detrex `projects/h_deformable_detr/modeling/h_deformable_transformer.py::
 * HDeformableDetrTransformerDecoder`). Per layer: self-attention (the hybrid one-to-one / one-to-many
 * mask) -> LN -> deformable cross-attention around the reference boxes -> LN -> FFN -> LN, with the SAME
 * query_pos in every layer (computed once by the transformer from the proposals; DINO recomputes it per
 * layer) and no final LayerNorm. Box refinement: new_ref = sigmoid(bbox_embed[i](out) +
 * inverse_sigmoid(ref)), detached for the next layer; with look_forward_twice the intermediate
 * references are the non-detached new_ref.
 */
import * as tf from '@tensorflow/tfjs';
import { Linear, MLP, ModuleList } from '@detr/core';
import { register } from '@detr/registry';
import {
  TransformerLayerSequence,
  deformableDecoderLayerFactory,
  refineReference,
  stopGradient,
  type DeformableDecoderLayerOptions,
  type SpatialShapes,
} from '@detr/transformers';

export interface HDeformableDetrTransformerDecoderOptions extends DeformableDecoderLayerOptions {
  num_layers?: number;
  return_intermediate?: boolean;
  look_forward_twice?: boolean;
}

export interface HDeformableDecoderArgs {
  /** Position embedding of the queries [B,Nq,C], the same for every layer. */
  query_pos: tf.Tensor;
  /** Encoder memory [B,S,C] (value of the cross-attention). */
  memory: tf.Tensor;
  /** [B,S] bool padding mask of the memory. */
  key_padding_mask: tf.Tensor | null;
  /** Initial reference boxes [B,Nq,4] (or points [B,Nq,2]), normalised. */
  reference_points: tf.Tensor;
  spatial_shapes: SpatialShapes;
  level_start_index?: number[];
  /** [B,L,2] (w, h). */
  valid_ratios: tf.Tensor;
  /** [self-attention mask [Nq,Nq] bool | null, cross-attention mask (null)]. */
  attn_masks?: (tf.Tensor | null)[] | null;
}

export interface HDeformableDecoderOutput {
  /** Per layer the layer output [B,Nq,C] (not normed; only the last layer without return_intermediate). */
  states: tf.Tensor[];
  /** Per layer the refined references (non-detached with look_forward_twice). */
  references: tf.Tensor[];
}

@register('decoder', 'h_deformable_detr')
export class HDeformableDetrTransformerDecoder extends TransformerLayerSequence {
  readonly embedDim: number;
  readonly returnIntermediate: boolean;
  readonly lookForwardTwice: boolean;
  /** Attached by the detector (`setPredictionHeads`): num_layers + 1 heads, the last for the encoder. */
  bbox_embed: ModuleList<MLP> | null = null;
  class_embed: ModuleList<Linear> | null = null;

  constructor(opts: HDeformableDetrTransformerDecoderOptions = {}) {
    const embedDim = opts.embed_dim ?? 256;
    super({ transformer_layers: deformableDecoderLayerFactory(opts), num_layers: opts.num_layers ?? 6 });
    this.embedDim = embedDim;
    this.returnIntermediate = opts.return_intermediate ?? true;
    this.lookForwardTwice = opts.look_forward_twice ?? true;
  }

  /**
   * Attach the detector's heads (detrex: `transformer.decoder.bbox_embed = self.bbox_embed`, then
   * `transformer.decoder.class_embed = self.class_embed`, in that order): the same modules are then in
   * the state dict under both names, as in detrex.
   */
  setPredictionHeads(classEmbed: ModuleList<Linear>, bboxEmbed: ModuleList<MLP>): void {
    if (classEmbed.length !== this.numLayers + 1 || bboxEmbed.length !== this.numLayers + 1) {
      throw new Error(`HDeformableDetrTransformerDecoder: expected ${this.numLayers + 1} class / box heads (decoder layers + encoder), got ${classEmbed.length} / ${bboxEmbed.length}`);
    }
    this.bbox_embed = this.registerModule('bbox_embed', bboxEmbed);
    this.class_embed = this.registerModule('class_embed', classEmbed);
  }

  /** query [B,Nq,C] (content queries) -> per-layer states and references. */
  forward(query: tf.Tensor, args: HDeformableDecoderArgs): HDeformableDecoderOutput {
    const ref0 = args.reference_points;
    const last = ref0.shape[ref0.rank - 1];
    if (ref0.rank !== 3 || (last !== 4 && last !== 2)) throw new Error(`HDeformableDetrTransformerDecoder: reference_points must be [B,Nq,2|4], got [${ref0.shape}]`);
    if (query.rank !== 3 || query.shape[1] !== ref0.shape[1]) throw new Error(`HDeformableDetrTransformerDecoder: query [${query.shape}] and reference_points [${ref0.shape}] disagree on the number of queries`);
    if (args.query_pos.shape.join() !== query.shape.join()) throw new Error(`HDeformableDetrTransformerDecoder: query_pos [${args.query_pos.shape}] must match query [${query.shape}]`);
    return tf.tidy(() => {
      const states: tf.Tensor[] = [];
      const references: tf.Tensor[] = [];
      let output = query;
      let reference = ref0;
      const ratios = last === 4 ? tf.concat([args.valid_ratios, args.valid_ratios], -1) : args.valid_ratios; // [B,L,last]
      this.layers.toArray().forEach((layer, i) => {
        // Each layer's temporaries are freed by its own tidy; what it returns lives until the outer one ends.
        const [out, nextRef, interRef] = tf.tidy(() => {
          const refInput = reference.expandDims(2).mul(ratios.expandDims(1)); // [B,Nq,L,last]
          const layerOut = layer.forward(output, {
            value: args.memory,
            query_pos: args.query_pos,
            attn_masks: args.attn_masks ?? null,
            key_padding_mask: args.key_padding_mask,
            reference_points: refInput,
            spatial_shapes: args.spatial_shapes,
            level_start_index: args.level_start_index,
          });
          if (!this.bbox_embed) return [layerOut, reference, reference];
          const refined = refineReference(this.bbox_embed.at(i).forward(layerOut), reference); // [B,Nq,4]
          const detached = stopGradient(refined);
          return [layerOut, detached, this.lookForwardTwice ? refined : detached];
        });
        output = out;
        reference = nextRef;
        if (this.returnIntermediate || i === this.numLayers - 1) {
          states.push(out);
          references.push(interRef);
        }
      });
      return { states, references };
    });
  }
}
