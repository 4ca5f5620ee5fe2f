/**
 * Test-size versions of the R50 configs: overrides that shrink the detector (ResNet-18 kept frozen, 32-d
 * transformer, one encoder layer, 12 queries, 2 denoising queries) while keeping the 6 decoder layers, so the
 * many-to-one settings of a config (match_num = [encoder, decoder 0..4, last]) mean what they mean at
 * full size. Plus a synthetic batch and a one-step trainer for "instantiates and trains" checks.
 */
import * as tf from '@tensorflow/tfjs';
import { instantiate, type ConfigNode } from '@detr/registry';
import { Trainer, type AdamW, type Batch, type ParamScheduler, type StepResult, type TrainableDetector } from '@detr/engine';

/** Shrink overrides for configs built on models/aligndetr_r50.ts (or DINO's dino_r50.ts). */
export const R50_TEST_SHRINK: string[] = [
  'model.backbone.depth=18',
  // The whole backbone frozen (run off the gradient tape): the rows differ in the criterion only.
  'model.backbone.freeze_at=5',
  'model.neck.input_shapes={"res3":{"channels":128},"res4":{"channels":256},"res5":{"channels":512}}',
  'model.neck.out_channels=32',
  'model.neck.norm_layer={"type":"GroupNorm","num_groups":8,"num_channels":32}',
  'model.position_embedding.num_pos_feats=16',
  'model.embed_dim=32',
  'model.transformer.encoder.embed_dim=32',
  'model.transformer.encoder.num_heads=4',
  'model.transformer.encoder.feedforward_dim=64',
  'model.transformer.encoder.num_layers=1',
  'model.transformer.decoder.embed_dim=32',
  'model.transformer.decoder.num_heads=4',
  'model.transformer.decoder.feedforward_dim=64',
  'model.num_queries=12',
  'model.dn_number=2',
  'model.select_box_nums_for_evaluation=10',
];

/** Side of the synthetic images, and the valid width of the second (right-padded) one. */
const SIZE = 32;
const PADDED_WIDTH = 24;

/** A fixed 2-image SIZE x SIZE batch (image 1 padded on the right) with 3 + 1 objects of classes < numClasses. */
export function syntheticBatch(numClasses: number, seed = 3): Batch {
  return tf.tidy(() => {
    const masks = tf.stack([tf.zeros([SIZE, SIZE], "bool"), tf.range(0, SIZE).reshape([1, SIZE]).greaterEqual(PADDED_WIDTH).tile([SIZE, 1])]) as tf.Tensor3D;
    return {
      images: tf.randomNormal([2, SIZE, SIZE, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
      masks,
      targets: [
        { labels: Int32Array.from([0, 2 % numClasses, 1 % numClasses]), boxes: Float32Array.from([0.3, 0.3, 0.2, 0.2, 0.7, 0.6, 0.3, 0.4, 0.5, 0.5, 0.9, 0.8]) },
        { labels: Int32Array.from([numClasses - 1]), boxes: Float32Array.from([0.4, 0.5, 0.3, 0.3]) },
      ],
      imageIds: [1, 2],
      imageSizes: [[SIZE, SIZE], [SIZE, PADDED_WIDTH]],
      origSizes: [[SIZE, SIZE], [SIZE, PADDED_WIDTH]],
    } as unknown as tf.TensorContainer;
  }) as unknown as Batch;
}

export interface OneStepResult {
  model: TrainableDetector;
  step: StepResult;
}

/**
 * Builds model, optimizer and lr schedule from a resolved config as launch() does, and runs one
 * trainer iteration (forward, weighted losses, backward, clip, AdamW) on the synthetic batch.
 * The caller disposes the model.
 */
export function trainOneStep(resolved: ConfigNode): OneStepResult {
  const r = resolved as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const model = instantiate<TrainableDetector>(r.model);
  const optimizer = instantiate<AdamW>({ ...r.optimizer, params: { ...r.optimizer.params, model } });
  const scheduler = instantiate<ParamScheduler>(r.lr_multiplier);
  const numClasses = Number(r.model.num_classes);
  const loader = { next: () => syntheticBatch(numClasses), getState: () => null, setState: () => undefined };
  const trainer = new Trainer({
    model,
    optimizer,
    loader,
    scheduler,
    max_iter: Number(r.train.max_iter),
    clip_grad: { enabled: true, max_norm: 0.1, norm_type: 2 },
  });
  model.train();
  const step = trainer.runStep();
  optimizer.dispose();
  return { model, step };
}
