/**
 * The `train` node every config starts from (detrex `configs/common/train.py`), with the values the
 * DETR configs of detrex use (gradient clipping 0.1, eval and checkpoint every 5000 iterations).
 */
export const train = {
  output_dir: './output',
  /** Weights to start from: a detrex / Align-DETR .pth, a torchvision or detectron2 backbone, or our safetensors. */
  init_checkpoint: '',
  max_iter: 90000,
  /** Fixed by default so runs are reproducible (detrex's default -1 means a random seed). */
  seed: 42,
  /** tfjs backend; '' chooses the best that loads (node-gpu, node, wasm, cpu). */
  backend: '',
  /** Batches whose gradients are averaged into one update (an effective batch of batch_size x this). */
  grad_accum_steps: 1,
  clip_grad: { enabled: true, params: { max_norm: 0.1, norm_type: 2 } },
  checkpointer: { period: 5000, max_to_keep: 3 },
  /** Evaluate every eval_period iterations and after the last; 0: only after the last; negative: never. */
  eval_period: 5000,
  log_period: 20,
  model_ema: { enabled: false, decay: 0.999 },
  /** Validation images drawn with predicted and GT boxes at each evaluation; score threshold for drawing. */
  num_visualize: 4,
  vis_score_threshold: 0.3,
};
