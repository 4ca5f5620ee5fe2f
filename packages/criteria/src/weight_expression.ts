/**
 * Loss-weight expressions of the IA-BCE family, written as in Align-DETR's Table B / Table 1
 * (paper appendix C: L = -w_pos*ln(s) - w_neg*ln(1-s)): e.g. `t`, `1-t`, `(t-s)^2`, `(1-t)s^2`,
 * `s^gamma`, `|t-s|^2*t`.
 *
 * Symbols: `t` the (rank-weighted, detached) quality target, `s` (alias `p`) the predicted
 * probability sigmoid(logit) -- NOT detached, as the upstream focal-style weights (`p**gamma`) --
 * and `gamma` the loss's gamma. Numbers, + - * / ^ (or **), parentheses, |x| and implicit
 * multiplication (`(1-t)s^2`). Parsed once at construction; evaluated on tensors inside the tape.
 */
import * as tf from '@tensorflow/tfjs';

type Node =
  | { op: 'num'; value: number }
  | { op: 'var'; name: 't' | 's' | 'gamma' }
  | { op: 'neg' | 'abs'; a: Node }
  | { op: '+' | '-' | '*' | '/' | '^'; a: Node; b: Node };

export interface WeightEnv<T> {
  t: T;
  s: T;
  gamma: number;
}

const SYMBOLS = 't, s (or p), gamma';

function tokenize(text: string, where: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+|\*\*|[A-Za-z_]+|[-+*/^()|])/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`${where}: cannot read "${text.slice(at).trim()}" in "${text}" (symbols: ${SYMBOLS}; operators + - * / ^ ( ) |x|)`);
    tokens.push(m[1] === '**' ? '^' : m[1]);
    at = re.lastIndex;
  }
  return tokens;
}

class Parser {
  private i = 0;
  private absDepth = 0;
  constructor(private readonly tokens: string[], private readonly text: string, private readonly where: string) {}

  parse(): Node {
    if (this.tokens.length === 0) throw new Error(`${this.where}: empty expression`);
    const node = this.expr();
    if (this.i < this.tokens.length) this.fail(`unexpected "${this.tokens[this.i]}"`);
    return node;
  }

  private fail(msg: string): never {
    throw new Error(`${this.where}: ${msg} in "${this.text}" (symbols: ${SYMBOLS}; operators + - * / ^ ( ) |x|)`);
  }

  private peek(): string | undefined {
    return this.tokens[this.i];
  }

  private expr(): Node {
    let node = this.term();
    for (let t = this.peek(); t === '+' || t === '-'; t = this.peek()) {
      this.i++;
      node = { op: t, a: node, b: this.term() };
    }
    return node;
  }

  /** Products, with implicit multiplication when the next token starts a factor. */
  private term(): Node {
    let node = this.unary();
    for (;;) {
      const t = this.peek();
      if (t === '*' || t === '/') {
        this.i++;
        node = { op: t, a: node, b: this.unary() };
      } else if (t !== undefined && (t === '(' || /^[A-Za-z_\d.]/.test(t) || (t === '|' && this.absDepth === 0))) {
        node = { op: '*', a: node, b: this.unary() };
      } else {
        return node;
      }
    }
  }

  private unary(): Node {
    if (this.peek() === '-') {
      this.i++;
      return { op: 'neg', a: this.unary() };
    }
    return this.power();
  }

  private power(): Node {
    const base = this.atom();
    if (this.peek() === '^') {
      this.i++;
      return { op: '^', a: base, b: this.unary() };
    }
    return base;
  }

  private atom(): Node {
    const t = this.tokens[this.i++];
    if (t === undefined) this.fail('unexpected end');
    if (t === '(') {
      const inner = this.expr();
      if (this.tokens[this.i++] !== ')') this.fail('missing ")"');
      return inner;
    }
    if (t === '|') {
      this.absDepth++;
      const inner = this.expr();
      this.absDepth--;
      if (this.tokens[this.i++] !== '|') this.fail('missing closing "|"');
      return { op: 'abs', a: inner };
    }
    if (/^[\d.]/.test(t)) return { op: 'num', value: Number(t) };
    if (t === 't' || t === 's' || t === 'gamma') return { op: 'var', name: t };
    if (t === 'p') return { op: 'var', name: 's' };
    return this.fail(`unknown symbol "${t}"`);
  }
}

interface Ops<T> {
  add(a: T | number, b: T | number): T | number;
  sub(a: T | number, b: T | number): T | number;
  mul(a: T | number, b: T | number): T | number;
  div(a: T | number, b: T | number): T | number;
  pow(a: T | number, b: T | number): T | number;
  neg(a: T | number): T | number;
  abs(a: T | number): T | number;
}

function evaluate<T>(node: Node, env: WeightEnv<T>, ops: Ops<T>): T | number {
  switch (node.op) {
    case 'num':
      return node.value;
    case 'var':
      return env[node.name];
    case 'neg':
      return ops.neg(evaluate(node.a, env, ops));
    case 'abs':
      return ops.abs(evaluate(node.a, env, ops));
    case '+':
      return ops.add(evaluate(node.a, env, ops), evaluate(node.b, env, ops));
    case '-':
      return ops.sub(evaluate(node.a, env, ops), evaluate(node.b, env, ops));
    case '*':
      return ops.mul(evaluate(node.a, env, ops), evaluate(node.b, env, ops));
    case '/':
      return ops.div(evaluate(node.a, env, ops), evaluate(node.b, env, ops));
    case '^':
      return ops.pow(evaluate(node.a, env, ops), evaluate(node.b, env, ops));
  }
}

const numberOps: Ops<number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  neg: (a) => -a,
  abs: (a) => Math.abs(a),
};

const isNum = (x: unknown): x is number => typeof x === 'number';
/** Tensor ops that fold numbers and skip identities (x*1, x+0, x^1; x^2 as a square). */
const tensorOps: Ops<tf.Tensor> = {
  add: (a, b) => (isNum(a) && isNum(b) ? a + b : a === 0 ? b : b === 0 ? a : tf.add(a, b)),
  sub: (a, b) => (isNum(a) && isNum(b) ? a - b : b === 0 ? a : tf.sub(a, b)),
  mul: (a, b) => (isNum(a) && isNum(b) ? a * b : a === 1 ? b : b === 1 ? a : tf.mul(a, b)),
  div: (a, b) => (isNum(a) && isNum(b) ? a / b : b === 1 ? a : tf.div(a, b)),
  pow: (a, b) => {
    if (isNum(a) && isNum(b)) return Math.pow(a, b);
    if (b === 1) return a;
    if (b === 2) return tf.square(a as tf.Tensor);
    return tf.pow(a, b);
  },
  neg: (a) => (isNum(a) ? -a : tf.neg(a)),
  abs: (a) => (isNum(a) ? Math.abs(a) : tf.abs(a)),
};

function mentions(node: Node, name: 't' | 's'): boolean {
  switch (node.op) {
    case 'num':
      return false;
    case 'var':
      return node.name === name;
    case 'neg':
    case 'abs':
      return mentions(node.a, name);
    default:
      return mentions(node.a, name) || mentions(node.b, name);
  }
}

export class WeightExpression {
  private readonly root: Node;

  /** @param where names the option in errors (`IABCELoss w_pos`). */
  constructor(readonly text: string, where: string) {
    if (typeof text !== 'string') throw new Error(`${where}: expected an expression string like "t" or "(t-s)^2", got ${JSON.stringify(text)}`);
    this.root = new Parser(tokenize(text, where), text, where).parse();
  }

  /** True when the value depends on the prediction s (then gradients flow through it). */
  get usesScore(): boolean {
    return mentions(this.root, 's');
  }

  /** The constant value when the expression has no t and no s (e.g. "0", "1"), else undefined. */
  constantValue(gamma: number): number | undefined {
    if (mentions(this.root, 't') || mentions(this.root, 's')) return undefined;
    return evaluate(this.root, { t: NaN, s: NaN, gamma }, numberOps) as number;
  }

  evaluateNumber(env: WeightEnv<number>): number {
    return evaluate(this.root, env, numberOps) as number;
  }

  /** Value on tensors (a number when the expression is constant). Call inside tf.tidy. */
  evaluateTensor(env: WeightEnv<tf.Tensor>): tf.Tensor | number {
    return evaluate(this.root, env, tensorOps);
  }
}
