/**
 * A named tensor slot of a Module: a trainable Parameter or a Buffer (running statistics, frozen-BN
 * tensors). Both hold a tf.Variable so loading a checkpoint can assign in place.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamLayout } from './layout';

let uniqueId = 0;

export class Parameter {
  readonly variable: tf.Variable;
  /** PyTorch's `requires_grad`: whether the optimizer updates it. */
  requiresGrad: boolean;
  readonly layout: ParamLayout;

  constructor(value: tf.Tensor, opts: { layout?: ParamLayout; requiresGrad?: boolean; name?: string } = {}) {
    this.layout = opts.layout ?? 'plain';
    this.requiresGrad = opts.requiresGrad ?? true;
    // The variable name must be unique per tfjs engine; the state-dict name lives in the Module tree.
    this.variable = tf.variable(value, true, `${opts.name ?? 'param'}_${uniqueId++}`, value.dtype);
  }

  get shape(): number[] {
    return this.variable.shape;
  }

  /** Replace the value (same shape and dtype), disposing the given tensor's copy is the caller's business. */
  assign(value: tf.Tensor): void {
    this.variable.assign(value.dtype === this.variable.dtype ? value : value.cast(this.variable.dtype));
  }
}

export class Buffer {
  readonly variable: tf.Variable;
  readonly layout: ParamLayout;
  /** Non-persistent buffers are left out of the state dict (PyTorch's `persistent=False`). */
  readonly persistent: boolean;

  constructor(value: tf.Tensor, opts: { layout?: ParamLayout; persistent?: boolean; name?: string } = {}) {
    this.layout = opts.layout ?? 'plain';
    this.persistent = opts.persistent ?? true;
    this.variable = tf.variable(value, false, `${opts.name ?? 'buffer'}_${uniqueId++}`, value.dtype);
  }

  get shape(): number[] {
    return this.variable.shape;
  }

  assign(value: tf.Tensor): void {
    this.variable.assign(value.dtype === this.variable.dtype ? value : value.cast(this.variable.dtype));
  }
}
