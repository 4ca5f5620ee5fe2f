/**
 * A small PyTorch-like Module system on tfjs: a tree of modules owning Parameters and Buffers, whose
 * hierarchical names are the state-dict keys of detrex (`transformer.decoder.layers.0.norm1.weight`), so a
 * detrex / Align-DETR checkpoint loads by name with only layout transposes (see layout.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { Buffer, Parameter } from './parameter';
import { fromTorchLayout, torchShape, toTorchLayout, type ParamLayout } from './layout';

/** Where a state dict comes from: our own checkpoints (native layout) or PyTorch (torch layout). */
export type StateDictLayout = 'native' | 'torch';

export interface LoadStateDictOptions {
  /** Strict: any missing / unexpected key or shape mismatch throws (PyTorch's default). */
  strict?: boolean;
  layout?: StateDictLayout;
}

export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
  shapeMismatch: { key: string; expected: number[]; got: number[] }[];
}

export function formatLoadReport(report: LoadReport, maxList = 20): string {
  const list = (xs: string[]) =>
    xs.length <= maxList ? xs.join(', ') : `${xs.slice(0, maxList).join(', ')}, ... (${xs.length - maxList} more)`;
  const lines = [`loaded ${report.loaded.length} tensors`];
  if (report.missing.length) lines.push(`missing keys (${report.missing.length}): ${list(report.missing)}`);
  if (report.unexpected.length) lines.push(`unexpected keys (${report.unexpected.length}): ${list(report.unexpected)}`);
  if (report.shapeMismatch.length) {
    lines.push(
      `shape mismatches (${report.shapeMismatch.length}): ` +
        report.shapeMismatch
          .slice(0, maxList)
          .map((m) => `${m.key}: expected [${m.expected}] got [${m.got}]`)
          .join('; '),
    );
  }
  return lines.join('\n');
}

interface Slot {
  kind: 'param' | 'buffer';
  slot: Parameter | Buffer;
}

export class Module {
  /** Train/eval mode (PyTorch's `self.training`). */
  training = true;
  private readonly _params = new Map<string, Parameter>();
  private readonly _buffers = new Map<string, Buffer>();
  private readonly _modules = new Map<string, Module | null>();

  /** Register a trainable parameter under `name`; returns the variable for use in forward(). */
  protected registerParameter(name: string, value: tf.Tensor, layout: ParamLayout = 'plain'): tf.Variable {
    this.checkFreeName(name);
    const p = new Parameter(value, { layout, name });
    value.dispose();
    this._params.set(name, p);
    return p.variable;
  }

  /** Register a buffer (part of the state dict unless persistent=false, never trained). */
  protected registerBuffer(name: string, value: tf.Tensor, opts: { layout?: ParamLayout; persistent?: boolean } = {}): tf.Variable {
    this.checkFreeName(name);
    const b = new Buffer(value, { ...opts, name });
    value.dispose();
    this._buffers.set(name, b);
    return b.variable;
  }

  /** Register a child module (or an empty slot, null) under `name`. Returns the child. */
  protected registerModule<M extends Module | null>(name: string, module: M): M {
    if (name.includes('.')) throw new Error(`Module name "${name}" must not contain '.'`);
    if (this._params.has(name) || this._buffers.has(name)) throw new Error(`"${name}" is already a tensor of this module`);
    this._modules.set(name, module);
    return module;
  }

  private checkFreeName(name: string): void {
    if (name.includes('.')) throw new Error(`Parameter name "${name}" must not contain '.'`);
    if (this._params.has(name) || this._buffers.has(name) || this._modules.has(name)) {
      throw new Error(`"${name}" is already registered in ${this.constructor.name}`);
    }
  }

  /** The Parameter object registered under `name` in this module (not children). */
  getParameter(name: string): Parameter {
    const p = this._params.get(name);
    if (!p) throw new Error(`${this.constructor.name} has no parameter "${name}"`);
    return p;
  }

  children(): [string, Module][] {
    return [...this._modules.entries()].filter((e): e is [string, Module] => e[1] !== null);
  }

  /**
   * Every module of the tree with its dotted name ('' for this one). Shared (tied) modules appear once,
   * under their first name, as PyTorch's `named_modules()`.
   */
  namedModules(prefix = '', seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children()) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name, seen));
    }
    return out;
  }

  /** Parameters with dotted names; each Parameter once (tied ones under their first name). */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    for (const [name, slot] of this.allSlots(prefix)) {
      if (slot.kind === 'param' && !seen.has(slot.slot as Parameter)) {
        seen.add(slot.slot as Parameter);
        out.push([name, slot.slot as Parameter]);
      }
    }
    return out;
  }

  namedBuffers(prefix = ''): [string, Buffer][] {
    const out: [string, Buffer][] = [];
    const seen = new Set<Buffer>();
    for (const [name, slot] of this.allSlots(prefix)) {
      if (slot.kind === 'buffer' && !seen.has(slot.slot as Buffer)) {
        seen.add(slot.slot as Buffer);
        out.push([name, slot.slot as Buffer]);
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Variables the optimizer updates (requiresGrad), with their names. */
  trainableVariables(): { name: string; variable: tf.Variable }[] {
    return this.namedParameters()
      .filter(([, p]) => p.requiresGrad)
      .map(([name, p]) => ({ name, variable: p.variable }));
  }

  /**
   * Every tensor slot under every name it is reachable by, in registration order: parameters, then
   * buffers, then children (PyTorch's state_dict order). Tied modules appear under each name, as in
   * PyTorch's state_dict.
   */
  private allSlots(prefix: string, stack = new Set<Module>()): [string, Slot][] {
    if (stack.has(this)) throw new Error(`Module cycle at "${prefix}"`);
    stack.add(this);
    const out: [string, Slot][] = [];
    const key = (n: string) => (prefix ? `${prefix}.${n}` : n);
    for (const [n, p] of this._params) out.push([key(n), { kind: 'param', slot: p }]);
    for (const [n, b] of this._buffers) out.push([key(n), { kind: 'buffer', slot: b }]);
    for (const [n, child] of this.children()) out.push(...child.allSlots(key(n), stack));
    stack.delete(this);
    return out;
  }

  /**
   * The state dict: every parameter and persistent buffer by name, in our (native) layout, or in
   * PyTorch's layout with `layout: 'torch'`. Tensors are views of the variables for 'native'
   * (do not dispose them) and new tensors for 'torch' (caller disposes).
   */
  stateDict(layout: StateDictLayout = 'native'): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, { kind, slot }] of this.allSlots('')) {
      if (kind === 'buffer' && !(slot as Buffer).persistent) continue;
      out.set(name, layout === 'native' ? slot.variable : toTorchLayout(slot.layout, slot.variable));
    }
    return out;
  }

  /** Names and shapes (in the requested layout) of the state dict, without touching tensor data. */
  stateDictShapes(layout: StateDictLayout = 'native'): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [name, { kind, slot }] of this.allSlots('')) {
      if (kind === 'buffer' && !(slot as Buffer).persistent) continue;
      out.set(name, layout === 'native' ? [...slot.shape] : torchShape(slot.layout, slot.shape));
    }
    return out;
  }

  /**
   * Load tensors by name. `layout: 'torch'` converts PyTorch layouts (Linear [out,in], conv OIHW).
   * Strict mode throws listing missing / unexpected keys and shape mismatches; non-strict loads what
   * matches and returns the report. The given tensors are not disposed.
   */
  loadStateDict(stateDict: Map<string, tf.Tensor>, opts: LoadStateDictOptions = {}): LoadReport {
    const strict = opts.strict ?? true;
    const layout = opts.layout ?? 'native';
    const slots = new Map<string, Slot>();
    for (const [name, slot] of this.allSlots('')) {
      if (slot.kind === 'buffer' && !(slot.slot as Buffer).persistent) continue;
      slots.set(name, slot);
    }
    const report: LoadReport = { loaded: [], missing: [], unexpected: [], shapeMismatch: [] };
    const plan: [Slot, tf.Tensor][] = [];
    for (const [name, tensor] of stateDict) {
      const slot = slots.get(name);
      if (!slot) {
        report.unexpected.push(name);
        continue;
      }
      const expected = layout === 'native' ? slot.slot.shape : torchShape(slot.slot.layout, slot.slot.shape);
      if (!sameShape(expected, tensor.shape)) {
        report.shapeMismatch.push({ key: name, expected: [...expected], got: [...tensor.shape] });
        continue;
      }
      plan.push([slot, tensor]);
      report.loaded.push(name);
    }
    for (const name of slots.keys()) if (!stateDict.has(name)) report.missing.push(name);
    if (strict && (report.missing.length || report.unexpected.length || report.shapeMismatch.length)) {
      throw new Error(`loadStateDict (strict) of ${this.constructor.name} failed:\n${formatLoadReport(report)}`);
    }
    for (const [slot, tensor] of plan) {
      tf.tidy(() => slot.slot.assign(layout === 'native' ? tensor : fromTorchLayout(slot.slot.layout, tensor)));
    }
    return report;
  }

  /** Set train (true) or eval (false) mode on the whole tree. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freeze (requiresGrad=false) or unfreeze every parameter of the tree. */
  requiresGrad(flag: boolean): this {
    for (const [, p] of this.namedParameters()) p.requiresGrad = flag;
    return this;
  }

  freeze(): this {
    return this.requiresGrad(false);
  }

  /** Number of parameter elements (trainable only if asked). */
  numParameters(trainableOnly = false): number {
    return this.namedParameters()
      .filter(([, p]) => !trainableOnly || p.requiresGrad)
      .reduce((n, [, p]) => n + p.variable.size, 0);
  }

  /** Dispose every variable of the tree. */
  dispose(): void {
    const seen = new Set<tf.Variable>();
    for (const [, { slot }] of this.allSlots('')) {
      if (!seen.has(slot.variable)) {
        seen.add(slot.variable);
        slot.variable.dispose();
      }
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** An indexed list of modules: children named "0", "1", ... (PyTorch's nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(module: M): this {
    this.registerModule(String(this.items.length), module);
    this.items.push(module);
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    const m = this.items[i < 0 ? this.items.length + i : i];
    if (!m) throw new Error(`ModuleList index ${i} out of range (length ${this.items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  toArray(): M[] {
    return [...this.items];
  }
}
