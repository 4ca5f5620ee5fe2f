/**
 * detrex `FFN` (`detrex/layers/mlp.py`): (num_fcs - 1) x [Linear -> activation -> Dropout], then
 * Linear -> Dropout, plus the identity. State-dict keys as the nn.Sequential nesting gives them:
 * `layers.{i}.0.*` for the hidden Linears (`layers.{i}.1.*` for an activation with parameters, e.g.
 * PReLU), `layers.{num_fcs-1}.*` for the output Linear.
 */
import * as tf from '@tensorflow/tfjs';
import { Dropout, Linear, Module, ModuleList } from '@detr/core';

/** An activation: 'relu' or a module with forward (e.g. core's PReLU, whose weight is then saved). */
export type FfnActivation = 'relu' | (Module & { forward(x: tf.Tensor): tf.Tensor });

/** One hidden block: Sequential(Linear, activation, Dropout) -> keys `0.*` (Linear), `1.*` (activation). */
class FfnHiddenBlock extends Module {
  readonly fc: Linear;
  readonly drop: Dropout;

  constructor(inDim: number, outDim: number, bias: boolean, readonly activation: FfnActivation, drop: number) {
    super();
    this.fc = this.registerModule('0', new Linear(inDim, outDim, { bias }));
    if (activation !== 'relu') this.registerModule('1', activation);
    this.drop = this.registerModule('2', new Dropout(drop));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.fc.forward(x);
      return this.drop.forward(this.activation === 'relu' ? tf.relu(h) : this.activation.forward(h));
    });
  }
}

export interface FFNOptions {
  embed_dim?: number;
  feedforward_dim?: number;
  /** Defaults to embed_dim. */
  output_dim?: number;
  num_fcs?: number;
  /** 'relu' (default) or a factory of an activation module (one per hidden block, as deepcopy gives). */
  activation?: 'relu' | (() => FfnActivation);
  ffn_drop?: number;
  fc_bias?: boolean;
  add_identity?: boolean;
}

export class FFN extends Module {
  readonly embedDim: number;
  readonly feedforwardDim: number;
  readonly outputDim: number;
  readonly numFcs: number;
  readonly addIdentity: boolean;
  readonly layers: ModuleList;
  private readonly hidden: FfnHiddenBlock[] = [];
  private readonly out: Linear;
  private readonly outDrop: Dropout;

  constructor(opts: FFNOptions = {}) {
    super();
    this.embedDim = opts.embed_dim ?? 256;
    this.feedforwardDim = opts.feedforward_dim ?? 1024;
    this.outputDim = opts.output_dim ?? this.embedDim;
    this.numFcs = opts.num_fcs ?? 2;
    this.addIdentity = opts.add_identity ?? true;
    if (this.numFcs < 2) throw new Error(`FFN: num_fcs should be no less than 2. got ${this.numFcs}.`);
    const bias = opts.fc_bias ?? true;
    const drop = opts.ffn_drop ?? 0;
    const makeActivation = (): FfnActivation => (opts.activation && opts.activation !== 'relu' ? opts.activation() : 'relu');
    this.layers = this.registerModule('layers', new ModuleList());
    let inDim = this.embedDim;
    for (let i = 0; i < this.numFcs - 1; i++) {
      const block = new FfnHiddenBlock(inDim, this.feedforwardDim, bias, makeActivation(), drop);
      this.hidden.push(block);
      this.layers.append(block);
      inDim = this.feedforwardDim;
    }
    this.out = new Linear(this.feedforwardDim, this.outputDim, { bias });
    this.outDrop = new Dropout(drop);
    this.layers.append(this.out);
    this.layers.append(this.outDrop);
  }

  /** x [..., embed_dim] -> identity + layers(x), identity defaulting to x. */
  forward(x: tf.Tensor, identity?: tf.Tensor | null): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const block of this.hidden) h = block.forward(h);
      const out = this.outDrop.forward(this.out.forward(h));
      if (!this.addIdentity) return out;
      return (identity ?? x).add(out);
    });
  }
}
