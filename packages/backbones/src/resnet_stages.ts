/**
 * The residual stages res2..res5 of a ResNet of a given depth, as detrex's `make_stage`
 * (`detrex/modeling/backbone/resnet.py`, the same as detectron2's `build_resnet_backbone`) builds them:
 * BasicBlock for depth 18/34, BottleneckBlock for 50/101/152; first-block strides [1, 2, 2, 2];
 * channels doubling per stage; `res5_dilation = 2` (DC5) gives res5 stride 1 and dilated 3x3 convs.
 */
import { BasicBlock } from './basic_block';
import { BottleneckBlock } from './bottleneck_block';
import type { CNNBlockBase } from './cnn_block_base';
import type { NormName } from './norm';

export const RESNET_DEPTHS = [18, 34, 50, 101, 152] as const;
export type ResNetDepth = (typeof RESNET_DEPTHS)[number];

/** Blocks per stage res2..res5. */
export const BLOCKS_PER_STAGE: Record<ResNetDepth, [number, number, number, number]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

export interface ResNetStagesOptions {
  depth: ResNetDepth;
  norm: NormName;
  stride_in_1x1: boolean;
  res5_dilation: 1 | 2;
  /**
   * Which res5 blocks are dilated under DC5: 'all' (detectron2's make_stage, the default) or 'after_first'
   * (torchvision's `replace_stride_with_dilation`: the first block keeps dilation 1, as detrex's
   * TorchvisionResNet DC5 configs of DAB-DETR get it).
   */
  dc5_style?: 'all' | 'after_first';
  /** How many stages to build, from res2 (detrex drops the stages after the last requested output). */
  num_stages: number;
  /** Stem output channels (64). */
  in_channels?: number;
  /** detectron2 MODEL.RESNETS.RES2_OUT_CHANNELS: output channels of res2, doubled per stage (64 for R18/34, 256 for R50+). */
  res2_out_channels?: number;
  /** detectron2 MODEL.RESNETS.WIDTH_PER_GROUP: bottleneck width of res2, doubled per stage (64). */
  width_per_group?: number;
}

/** The blocks of each stage, res2 first. */
export function makeResNetStages(opts: ResNetStagesOptions): CNNBlockBase[][] {
  const { depth, norm, stride_in_1x1: strideIn1x1, res5_dilation: res5Dilation } = opts;
  const blocksPerStage = BLOCKS_PER_STAGE[depth];
  if (!blocksPerStage) throw new Error(`makeResNetStages: depth must be one of ${RESNET_DEPTHS.join(', ')}, got ${depth}`);
  if (res5Dilation !== 1 && res5Dilation !== 2) throw new Error(`makeResNetStages: res5_dilation must be 1 or 2, got ${res5Dilation}`);
  if (opts.dc5_style !== undefined && opts.dc5_style !== 'all' && opts.dc5_style !== 'after_first') {
    throw new Error(`makeResNetStages: dc5_style must be 'all' (detectron2) or 'after_first' (torchvision), got ${JSON.stringify(opts.dc5_style)}`);
  }
  const basic = depth < 50;
  if (basic && res5Dilation !== 1) {
    // detectron2 / detrex: "Must set res5_dilation = 1 for R18/R34" (BasicBlock has no dilation).
    throw new Error(`makeResNetStages: res5_dilation must be 1 for ResNet-${depth} (BasicBlock has no dilated conv)`);
  }
  let inChannels = opts.in_channels ?? 64;
  let outChannels = opts.res2_out_channels ?? (basic ? 64 : 256);
  let bottleneckChannels = opts.width_per_group ?? 64; // num_groups (1) * width_per_group
  for (const [name, v] of [['res2_out_channels', outChannels], ['width_per_group', bottleneckChannels], ['in_channels', inChannels]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`makeResNetStages: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const stages: CNNBlockBase[][] = [];
  for (let idx = 0; idx < opts.num_stages; idx++) {
    const stageIdx = idx + 2;
    const dilation = stageIdx === 5 ? res5Dilation : 1;
    const firstStride = idx === 0 || (stageIdx === 5 && dilation === 2) ? 1 : 2;
    const blocks: CNNBlockBase[] = [];
    for (let b = 0; b < blocksPerStage[idx]; b++) {
      const stride = b === 0 ? firstStride : 1;
      // torchvision _make_layer(dilate=True): block 0 uses the previous dilation (1), later blocks 2.
      const blockDilation = b === 0 && opts.dc5_style === 'after_first' ? 1 : dilation;
      const cin = b === 0 ? inChannels : outChannels;
      blocks.push(
        basic
          ? new BasicBlock({ in_channels: cin, out_channels: outChannels, stride, norm })
          : new BottleneckBlock({
              in_channels: cin,
              out_channels: outChannels,
              bottleneck_channels: bottleneckChannels,
              stride,
              norm,
              stride_in_1x1: strideIn1x1,
              dilation: blockDilation,
            }),
      );
    }
    stages.push(blocks);
    inChannels = outChannels;
    outChannels *= 2;
    bottleneckChannels *= 2;
  }
  return stages;
}
