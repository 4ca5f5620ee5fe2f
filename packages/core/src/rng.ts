/**
 * Seeded random numbers for everything random in detr-ts: parameter init, data augmentation,
 * denoising noise, the embedded dataset. xoshiro128** seeded through splitmix32, so a seed gives
 * the same stream on every machine, and the full state can be saved and restored (exact resume).
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a hash of a label, used to derive independent child streams. */
function hashLabel(label: string | number): number {
  const text = String(label);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface RngState {
  s: [number, number, number, number];
  /** A second normal deviate kept from the last Box-Muller draw, or null. */
  spareNormal: number | null;
}

export class Rng {
  private s = new Uint32Array(4);
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    const st = { s: (Math.floor(seed) >>> 0) ^ 0x5bd1e995 };
    for (let i = 0; i < 4; i++) this.s[i] = splitmix32(st);
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next raw 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer uniform in [lo, hi) (like torch.randint / Python's randrange). */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new Error(`Rng.int: empty range [${lo}, ${hi})`);
    return lo + Math.floor(this.random() * (hi - lo));
  }

  /** Standard normal deviate scaled to (mean, std), Box-Muller. */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** One element of a non-empty array. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.choice: empty array');
    return items[this.int(0, items.length)];
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /**
   * An independent stream derived from this one's current state and a label, without advancing
   * this stream: `rng.fork('augment')` gives the same child for the same parent state.
   */
  fork(label: string | number): Rng {
    const child = new Rng(0);
    const h = hashLabel(label);
    const st = { s: (this.s[0] ^ Math.imul(this.s[1], 31) ^ h) >>> 0 };
    for (let i = 0; i < 4; i++) child.s[i] = (splitmix32(st) ^ this.s[(i + 2) & 3] ^ h) >>> 0;
    if ((child.s[0] | child.s[1] | child.s[2] | child.s[3]) === 0) child.s[0] = 1;
    return child;
  }

  getState(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spareNormal: this.spareNormal };
  }

  setState(state: RngState): void {
    if (!Array.isArray(state.s) || state.s.length !== 4) throw new Error('Rng.setState: expected s of 4 uint32 values');
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i] >>> 0;
    this.spareNormal = state.spareNormal;
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

let globalRng = new Rng(0);

/** The process-wide stream used where no explicit Rng is passed (parameter init). */
export function getGlobalRng(): Rng {
  return globalRng;
}

/** Reseed the process-wide stream (train.seed). */
export function seedEverything(seed: number): Rng {
  globalRng = new Rng(seed);
  return globalRng;
}
