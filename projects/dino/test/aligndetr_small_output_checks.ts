/**
 * The eval-forward checks of the aligndetr_r50_small fixture (fixtures/parity/README.md section 10):
 * backbone / neck / position embeddings, encoder and two-stage selection, every decoder layer, and the
 * post-processed detections, with the README tolerances and indices exactly. Shared by the DINO
 * project's parity test (its own model builder) and Align-DETR's (the project config), on any backend.
 */
import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { RTOL, expectExact, fixtureRaw } from '@detr/core/testing';
import type { DINOOutputs, DINOTrace, Detections } from '../src/index';

const FIXTURE = 'aligndetr_r50_small';

export interface SmallParityRun {
  outputs: DINOOutputs;
  trace: DINOTrace;
  detections: Detections[];
}

/** expectClose-like: actual vs the fixture's raw tensor with a relative tolerance, labelled by key. */
export type CloseCheck = (actual: tf.Tensor | Float32Array, expected: ReturnType<typeof fixtureRaw>, rtol: number, label: string) => void;

/** NHWC -> NCHW for comparison with the fixture's torch layout. */
const nchw = (t: tf.Tensor) => tf.tidy(() => t.transpose([0, 3, 1, 2]));

/** Registers the four output checks; `run()` gives the forward's results once beforeAll has run. */
export function itChecksSmallAlignDetrOutputs(run: () => SmallParityRun, close: CloseCheck, backend: string): void {
  const exact = (actual: Parameters<typeof expectExact>[0], key: string) => expectExact(actual, fixtureRaw(FIXTURE, key), `${key} (${backend})`);
  const fx = (key: string) => fixtureRaw(FIXTURE, key);

  it('backbone, neck and position embeddings', () => {
    const { trace } = run();
    expect(tf.getBackend()).toBe(backend);
    for (const name of ['res3', 'res4', 'res5']) close(nchw(trace.features![name]), fx(`inter/backbone_${name}`), RTOL.activation, `inter/backbone_${name}`);
    trace.neck!.forEach((t, i) => close(nchw(t), fx(`inter/neck_${i}`), RTOL.activation, `inter/neck_${i}`));
    trace.pos_embeds!.forEach((t, i) => close(nchw(t), fx(`inter/pos_embed_${i}`), RTOL.activation, `inter/pos_embed_${i}`));
  });

  it('encoder, two-stage proposals and top-k selection (indices exactly)', () => {
    const { trace, outputs } = run();
    for (const [value, key] of [
      [trace.memory, 'inter/encoder_memory'],
      [trace.output_memory, 'inter/output_memory'],
      [trace.output_proposals, 'inter/output_proposals'],
      [trace.enc_outputs_class, 'inter/enc_class_all_tokens'],
      [trace.enc_state, 'inter/target_unact'],
      [trace.init_reference, 'inter/init_reference'],
      [outputs.enc_outputs!.pred_logits, 'enc_outputs/pred_logits'],
      [outputs.enc_outputs!.pred_boxes, 'enc_outputs/pred_boxes'],
    ] as const) close(value as tf.Tensor, fx(key), RTOL.activation, key);
    exact(trace.topk_proposals!, 'inter/topk_proposals');
  });

  it('every decoder layer: states, references, logits and boxes', () => {
    const { trace, outputs } = run();
    const layers = [...outputs.aux_outputs!, { pred_logits: outputs.pred_logits, pred_boxes: outputs.pred_boxes }];
    expect(layers.length).toBe(2);
    const stacked = (ts: tf.Tensor[]) => tf.tidy(() => tf.stack(ts));
    close(stacked(trace.inter_states!), fx('inter/inter_states'), RTOL.activation, 'inter/inter_states');
    close(stacked(trace.inter_references!), fx('inter/inter_references'), RTOL.activation, 'inter/inter_references');
    close(stacked(layers.map((l) => l.pred_logits)), fx('all_layers/pred_logits'), RTOL.activation, 'all_layers/pred_logits');
    close(stacked(layers.map((l) => l.pred_boxes)), fx('all_layers/pred_boxes'), RTOL.activation, 'all_layers/pred_boxes');
    close(outputs.pred_logits, fx('pred_logits'), RTOL.activation, 'pred_logits');
    close(outputs.pred_boxes, fx('pred_boxes'), RTOL.activation, 'pred_boxes');
    expect(outputs.dn_outputs).toBeUndefined(); // eval: no denoising queries
  });

  it('post-processed detections: top-50 over queries x classes (indices exactly), labels, scores and pixel boxes', () => {
    const [det] = run().detections;
    exact(det.topkIndex, 'post/topk_flat_index');
    exact(det.labels, 'post/labels');
    close(det.scores, fx('post/scores'), RTOL.activation, 'post/scores');
    close(det.boxes, fx('post/boxes_xyxy_pixels'), RTOL.activation, 'post/boxes_xyxy_pixels');
  });
}
