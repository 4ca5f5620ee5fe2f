/**
 * What every project's small config for the embedded MNIST-detection dataset shares, so the five stay
 * comparable: a half-width ResNet-18 with GroupNorm trained from scratch (no ImageNet weights are
 * downloaded; 32-channel stem and res2, so res3/res4/res5 give 64/128/256 channels), a 128-d
 * transformer (4 heads, FFN 512, 2 encoder and 3 decoder layers), AdamW at lr 2e-4 / weight decay 1e-4,
 * and a train node with evaluation at half and at the end. Sized for a 2-core CPU on the wasm backend
 * (about 1.1-1.5 s per iteration at batch 4).
 */
import { cloneConfig, type ConfigNode } from '@detr/registry';
import { AdamWConfig } from './optim';
import { train as commonTrain } from './train';

/** detectron2 ResNet options of the small backbone. */
export const SMALL_BACKBONE = { depth: 18, norm: 'GN', freeze_at: 0, stem_out_channels: 32, res2_out_channels: 32 };

/** Output channels of the small backbone's stages. */
export const SMALL_RES_CHANNELS = { res3: 64, res4: 128, res5: 256 };

/** Width and depth of the small transformers. */
export const SMALL_EMBED_DIM = 128;
export const SMALL_LAYER = { embed_dim: SMALL_EMBED_DIM, num_heads: 4, feedforward_dim: 512 };
export const SMALL_NUM_ENCODER_LAYERS = 2;
export const SMALL_NUM_DECODER_LAYERS = 3;

/**
 * Shrinks a deformable 4-level tree in place (DINO, Align-DETR, H-Deformable-DETR: `backbone`,
 * `position_embedding`, a ChannelMapper `neck`, `transformer.encoder` / `.decoder`) to the small sizes.
 */
export function shrinkDeformableDetr(model: ConfigNode): void {
  Object.assign(model.backbone as object, SMALL_BACKBONE);
  Object.assign(model.position_embedding as object, { num_pos_feats: SMALL_EMBED_DIM / 2 });
  Object.assign(model.neck as object, {
    input_shapes: Object.fromEntries(Object.entries(SMALL_RES_CHANNELS).map(([k, channels]) => [k, { channels }])),
    out_channels: SMALL_EMBED_DIM,
    norm_layer: { type: 'GroupNorm', num_groups: 32, num_channels: SMALL_EMBED_DIM },
  });
  const transformer = model.transformer as Record<string, Record<string, unknown>>;
  Object.assign(transformer.encoder, { ...SMALL_LAYER, num_layers: SMALL_NUM_ENCODER_LAYERS });
  Object.assign(transformer.decoder, { ...SMALL_LAYER, num_layers: SMALL_NUM_DECODER_LAYERS });
}

/** AdamW of the small configs. */
export function smallOptimizer(): ConfigNode {
  const optimizer = cloneConfig(AdamWConfig);
  // detrex's 2e-4. Measured on the embedded data, Align-DETR after 500 iterations: AP 3.2 at 2e-4, 1.3 at
  // 1e-3 (and DINO after 300-400: 0.6 at 2e-4, 0.03 at 1e-3).
  optimizer.lr = 2e-4;
  optimizer.weight_decay = 1e-4;
  return optimizer;
}

/** The train node: evaluation after half of max_iter and at the end, a checkpoint every quarter. */
export function smallTrain(outputDir: string, maxIter: number): typeof commonTrain {
  return {
    ...cloneConfig(commonTrain),
    output_dir: outputDir,
    max_iter: maxIter,
    eval_period: maxIter / 2,
    log_period: 20,
    checkpointer: { period: maxIter / 4, max_to_keep: 2 },
  };
}
