/**
 * Anchor DETR's FFN (official `models/transformer.py::FFN`): norm2(x + dropout3(linear2(dropout2(relu(linear1(x)))))),
 * the post-norm inside the FFN. Keys `linear1.*`, `linear2.*`, `norm2.*`.
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, LayerNorm, Linear, Module } from '@detr/core';

export class AnchorFFN extends Module {
  readonly linear1: Linear;
  readonly dropout2: Dropout;
  readonly linear2: Linear;
  readonly dropout3: Dropout;
  readonly norm2: LayerNorm;

  constructor(dModel: number, dFfn: number, dropout: number) {
    super();
    this.linear1 = this.registerModule('linear1', new Linear(dModel, dFfn));
    this.dropout2 = this.registerModule('dropout2', new Dropout(dropout));
    this.linear2 = this.registerModule('linear2', new Linear(dFfn, dModel));
    this.dropout3 = this.registerModule('dropout3', new Dropout(dropout));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel));
  }

  /** x [..., d_model] -> [..., d_model]. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.linear2.forward(this.dropout2.forward(tf.relu(this.linear1.forward(x))));
      return this.norm2.forward(x.add(this.dropout3.forward(h)));
    });
  }
}
