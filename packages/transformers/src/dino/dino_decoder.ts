/**
 * DINO's decoder (detrex `projects/dino/modeling/dino_transformer.py::DINOTransformerDecoder`):
 * per layer, query_pos = ref_point_head(get_sine_pos_embed(reference box)), then self-attention
 * (DN attention mask) -> LN -> deformable cross-attention around the reference boxes -> LN -> FFN -> LN;
 * box refinement new_ref = sigmoid(bbox_embed[i](out) + inverse_sigmoid(ref)), detached for the next
 * layer; intermediate outputs through the shared final `norm` and, with look-forward-twice, the
 * non-detached refined boxes.
 */
import * as tf from '@tensorflow/tfjs';
import { LayerNorm, Linear, MLP, ModuleList, checkpoint } from '@detr/core';
import { register } from '@detr/registry';
import type { SpatialShapes } from '../ms_deform_attn_core';
import { getSinePosEmbed } from '../position_embedding';
import { stopGradient } from '../stop_gradient';
import { TransformerLayerSequence } from '../transformer_layer';
import { deformableDecoderLayerFactory, refineReference, type DeformableDecoderLayerOptions } from './deformable_decoder_parts';

export interface DINOTransformerDecoderOptions extends DeformableDecoderLayerOptions {
  num_layers?: number;
  return_intermediate?: boolean;
  look_forward_twice?: boolean;
  /** Accepted for config compatibility (detrex's checkpoint wrapper, a no-op there too). */
  use_checkpoint?: boolean;
  /**
   * Recompute each layer in the backward pass instead of keeping its activations (ops/checkpoint.ts)
   * while training: the self-attention maps over 900 + denoising queries are a step's largest saved
   * tensors. Needs attn_dropout = ffn_dropout = 0. Default false.
   */
  activation_checkpoint?: boolean;
}

export interface DINODecoderArgs {
  /** Encoder memory [B,S,C] (key and value of the cross-attention). */
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

export interface DINODecoderOutput {
  /** Per layer: norm(output) [B,Nq,C] (only the last layer without return_intermediate). */
  states: tf.Tensor[];
  /** Per layer: the refined references (non-detached with look-forward-twice). */
  references: tf.Tensor[];
}

@register('decoder', 'dino')
export class DINOTransformerDecoder extends TransformerLayerSequence {
  readonly embedDim: number;
  readonly returnIntermediate: boolean;
  readonly lookForwardTwice: boolean;
  readonly ref_point_head: MLP;
  readonly norm: LayerNorm;
  readonly activationCheckpoint: boolean;
  /** Set by the detector (`setPredictionHeads`): num_layers + 1 heads, the last for the encoder. */
  class_embed: ModuleList<Linear> | null = null;
  bbox_embed: ModuleList<MLP> | null = null;

  constructor(opts: DINOTransformerDecoderOptions = {}) {
    const embedDim = opts.embed_dim ?? 256;
    super({ transformer_layers: deformableDecoderLayerFactory(opts), num_layers: opts.num_layers ?? 6 });
    this.embedDim = embedDim;
    this.returnIntermediate = opts.return_intermediate ?? true;
    this.lookForwardTwice = opts.look_forward_twice ?? true;
    this.ref_point_head = this.registerModule('ref_point_head', new MLP(2 * embedDim, embedDim, embedDim, 2));
    this.norm = this.registerModule('norm', new LayerNorm(embedDim));
    this.activationCheckpoint = opts.activation_checkpoint ?? false;
    if (this.activationCheckpoint && ((opts.attn_dropout ?? 0.1) > 0 || (opts.ffn_dropout ?? 0.1) > 0)) {
      throw new Error('DINOTransformerDecoder: activation_checkpoint needs attn_dropout = ffn_dropout = 0 (a recomputed layer would draw new dropout masks)');
    }
  }

  /**
   * Attach the detector's heads (detrex: `transformer.decoder.class_embed = self.class_embed`): the same
   * module objects are then reachable under both names, as in detrex's state dict.
   */
  setPredictionHeads(classEmbed: ModuleList<Linear>, bboxEmbed: ModuleList<MLP>): void {
    if (classEmbed.length !== this.numLayers + 1 || bboxEmbed.length !== this.numLayers + 1) {
      throw new Error(`DINOTransformerDecoder: expected ${this.numLayers + 1} class / box heads (decoder layers + encoder), got ${classEmbed.length} / ${bboxEmbed.length}`);
    }
    this.class_embed = this.registerModule('class_embed', classEmbed);
    this.bbox_embed = this.registerModule('bbox_embed', bboxEmbed);
  }

  /** query [B,Nq,C] (content queries) -> per-layer states and references. */
  forward(query: tf.Tensor, args: DINODecoderArgs): DINODecoderOutput {
    const last = args.reference_points.shape[args.reference_points.rank - 1];
    if (last !== 4 && last !== 2) throw new Error(`DINOTransformerDecoder: reference_points must end in 2 or 4, got [${args.reference_points.shape}]`);
    return tf.tidy(() => {
      const states: tf.Tensor[] = [];
      const references: tf.Tensor[] = [];
      let output = query;
      let reference = args.reference_points;
      const [b, nq] = reference.shape as [number, number];
      const ratios = last === 4 ? tf.concat([args.valid_ratios, args.valid_ratios], -1) : args.valid_ratios; // [B,L,last]
      this.layers.toArray().forEach((layer, i) => {
        // Each layer's temporaries are freed by its own tidy; what it returns lives until the outer one ends.
        const [out, nextRef, state, interRef] = tf.tidy(() => {
          const refInput = reference.expandDims(2).mul(ratios.expandDims(1)); // [B,Nq,L,last]
          const refLevel0 = refInput.slice([0, 0, 0, 0], [b, nq, 1, last]).reshape([b, nq, last]);
          // detrex uses get_sine_pos_embed's default 128 features per coordinate (= embed_dim / 2 at 256);
          // embed_dim / 2 keeps ref_point_head's 2*embed_dim input for other widths.
          const querySine = getSinePosEmbed(refLevel0, { num_pos_feats: this.embedDim / 2 }); // [B,Nq,last*C/2]
          const queryPos = this.ref_point_head.forward(querySine); // [B,Nq,C]
          // Masks (no gradient) are checkpoint constants; nulls stay in place.
          const masks = [...(args.attn_masks ?? []), args.key_padding_mask];
          const present = masks.filter((m): m is tf.Tensor => m != null);
          const run = (q: tf.Tensor, mem: tf.Tensor, pos: tf.Tensor, ref: tf.Tensor, ...given: tf.Tensor[]) => {
            let k = 0;
            const m = masks.map((t) => (t == null ? null : given[k++]));
            return layer.forward(q, {
              key: mem,
              value: mem,
              query_pos: pos,
              attn_masks: args.attn_masks ? m.slice(0, -1) : null,
              key_padding_mask: m[m.length - 1],
              reference_points: ref,
              spatial_shapes: args.spatial_shapes,
              level_start_index: args.level_start_index,
            });
          };
          const layerOut = this.activationCheckpoint && this.training
            ? checkpoint(run, [output, args.memory, queryPos, refInput], layer.trainableVariables().map((v) => v.variable), present)
            : run(output, args.memory, queryPos, refInput, ...present);
          let refined: tf.Tensor | null = null;
          let detached = reference;
          if (this.bbox_embed) {
            refined = refineReference(this.bbox_embed.at(i).forward(layerOut), reference); // [B,Nq,4]
            detached = stopGradient(refined);
          }
          return [layerOut, detached, this.returnIntermediate ? this.norm.forward(layerOut) : layerOut, this.lookForwardTwice && refined ? refined : detached];
        });
        output = out;
        reference = nextRef;
        if (this.returnIntermediate || i === this.numLayers - 1) {
          states.push(state);
          references.push(interRef);
        }
      });
      return { states, references };
    });
  }
}
