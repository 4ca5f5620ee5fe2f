/**
 * Anchor DETR's position adapters (official `models/transformer.py`: `adapt_pos1d`, `adapt_pos2d`),
 * `nn.Sequential(Linear(d, d), ReLU(), Linear(d, d))`: keys `0.*` and `2.*`.
 */
import * as tf from '@tensorflow/tfjs';
import { Linear, Module } from '@detr/core';

/** x [..., d] -> [..., d]. */
export class PositionAdapter extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(dModel: number) {
    super();
    this.fc1 = this.registerModule('0', new Linear(dModel, dModel));
    this.fc2 = this.registerModule('2', new Linear(dModel, dModel));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(tf.relu(this.fc1.forward(x))));
  }
}
