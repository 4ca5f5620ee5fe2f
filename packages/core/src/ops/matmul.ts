/**
 * Matrix products arranged for tfjs-backend-wasm's fast path.
 *
 * The wasm BatchMatMul kernel (tfjs-backend-wasm/src/cc/batch_mat_mul_impl.cc) calls XNNPACK's
 * fully-connected operator only when neither transpose flag is set AND both batch sizes are 1; every
 * other case runs a scalar blocked loop (measured: transposeA ~60x, transposeB ~15x slower than the
 * plain product, batched products at 1.6-1.8 GFLOP/s; /work/shared/PERF-NOTES.md). Once
 * installFastKernels() has run, detr-ts's own wasm BatchMatMul kernel (backend/batch_matmul_wasm.ts)
 * does this for every tf.matMul, and these helpers are tf.matMul. On wasm without it they
 *  - replace a transpose flag by an explicit `tf.transpose` of whichever operand(s) cost the fewest
 *    element moves, using (Bᵀ·Aᵀ)ᵀ where that is cheaper;
 *  - fold a shared right operand into one 2-d product ([B*M, K]·[K, N]);
 *  - run a genuinely batched product as one 2-d XNNPACK product per batch entry when each is large
 *    enough (`BMM_SPLIT_MIN_FLOPS`, measured with bench/ops.ts), else the batched kernel.
 * Everywhere else they are tf.matMul with the same flags (cpu and tfjs-node have no such cliff), with
 * mismatched batch broadcasts made explicit (see broadcastBatches).
 * All paths are differentiable (transpose/reshape/unstack/stack/BatchMatMul have gradients).
 */
import * as tf from '@tensorflow/tfjs';
import { fastBatchMatMulActive } from '../backend/batch_matmul_wasm';

export interface MatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/**
 * Per-batch-entry multiply-adds (M*K*N) from which a batched product on wasm is split into one 2-d
 * XNNPACK product per entry instead of the scalar batched kernel.
 */
export const BMM_SPLIT_MIN_MACS = 16 * 16 * 16;

/**
 * True when these helpers must avoid transpose flags and batched kernels themselves: the wasm backend
 * without detr-ts's BatchMatMul kernel.
 */
export function prefersPlainMatMul(): boolean {
  return tf.getBackend() === 'wasm' && !fastBatchMatMulActive();
}

function swapLast2(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(t, perm);
}

/** Plain 2-d product on wasm from a [m?,k?] pair with flags; a, b are rank 2. */
function plain2d(a: tf.Tensor2D, b: tf.Tensor2D, tA: boolean, tB: boolean): tf.Tensor2D {
  if (!tA && !tB) return tf.matMul(a, b);
  const [M, K] = tA ? [a.shape[1], a.shape[0]] : a.shape;
  const N = tB ? b.shape[0] : b.shape[1];
  // Element moves of each arrangement: transpose the flagged operand(s), or compute (B'·A')ᵀ where
  // B' = Bᵀ-or-B is made explicit from the *unflagged* operands and the result is transposed.
  const direct = (tA ? M * K : 0) + (tB ? K * N : 0);
  const swapped = (tA ? 0 : M * K) + (tB ? 0 : K * N) + M * N; // C = ((op B)ᵀ · (op A)ᵀ)ᵀ
  if (direct <= swapped) {
    const a2 = tA ? tf.transpose(a) : a; // [M, K]
    const b2 = tB ? tf.transpose(b) : b; // [K, N]
    return tf.matMul(a2, b2);
  }
  // (op B)ᵀ is b itself when tB, else bᵀ; (op A)ᵀ is a itself when tA, else aᵀ.
  const bt = tB ? b : tf.transpose(b); // [N, K]
  const at = tA ? a : tf.transpose(a); // [K, M]
  return tf.transpose(tf.matMul(bt, at)); // [N, M] -> [M, N]
}

/** Product of the batch dimensions of a shape ([..., rows, cols]) or of a batch shape. */
function batchSize(shape: number[]): number {
  return shape.reduce((p, v) => p * v, 1);
}

/**
 * Product of a [..., M, K] (or [..., K, M] with transposeA) and b [..., K, N] (or [..., N, K] with
 * transposeB), batch dimensions broadcast as tf.matMul does. Rank >= 2.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, opts: MatMulOptions = {}): tf.Tensor {
  const tA = opts.transposeA ?? false;
  const tB = opts.transposeB ?? false;
  if (a.rank < 2 || b.rank < 2) throw new Error(`matMul: operands must have rank >= 2, got shapes [${a.shape}] and [${b.shape}]`);
  const kA = tA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const kB = tB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  if (kA !== kB) {
    throw new Error(`matMul: inner dimensions differ: a [${a.shape}]${tA ? 'ᵀ' : ''} has ${kA}, b [${b.shape}]${tB ? 'ᵀ' : ''} has ${kB}`);
  }
  if (!prefersPlainMatMul()) return tf.tidy(() => tf.matMul(...broadcastBatches(a, b), tA, tB));
  return tf.tidy(() => {
    const batchA = batchSize(a.shape.slice(0, -2));
    const batchB = batchSize(b.shape.slice(0, -2));
    if (a.rank === 2 && b.rank === 2) return plain2d(a as tf.Tensor2D, b as tf.Tensor2D, tA, tB);
    if (batchA === 1 && batchB === 1) {
      const a2 = a.reshape(a.shape.slice(-2)) as tf.Tensor2D;
      const b2 = b.reshape(b.shape.slice(-2)) as tf.Tensor2D;
      const outLead = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
      const c = plain2d(a2, b2, tA, tB);
      return c.reshape([...outLead, ...c.shape]);
    }
    if (batchB === 1 && !tA) {
      // Shared right operand: one [batch*M, K] · [K, N] product.
      const lead = a.shape.slice(0, -2);
      const M = a.shape[a.rank - 2];
      const a2 = a.reshape([batchA * M, kA]) as tf.Tensor2D;
      const b2 = b.reshape(b.shape.slice(-2)) as tf.Tensor2D;
      const c = plain2d(a2, b2, false, tB); // [batch*M, N]
      const outLead = tf.broadcast_util.assertAndGetBroadcastShape(lead, b.shape.slice(0, -2));
      return c.reshape([...outLead, M, c.shape[1]]);
    }
    return batchedPlain(a, b, tA, tB);
  });
}

/**
 * Broadcasts the batch dimensions explicitly when both operands have more than one batch entry and
 * their batch shapes differ: tfjs 4.22's BatchMatMul kernels flatten each operand's batch and pair
 * entries by index modulo each batch size, which is wrong for e.g. [2,1] against [3] (checked on this
 * machine: tf.matMul of [2,1,3,4] and [3,4,5] differs from the product of the explicitly broadcast
 * operands by up to ~5 on both the cpu and the wasm backend).
 */
function broadcastBatches(a: tf.Tensor, b: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const leadA = a.shape.slice(0, -2);
  const leadB = b.shape.slice(0, -2);
  if (tf.util.arraysEqual(leadA, leadB) || batchSize(leadA) === 1 || batchSize(leadB) === 1) return [a, b];
  const lead = tf.broadcast_util.assertAndGetBroadcastShape(leadA, leadB);
  const a2 = tf.util.arraysEqual(leadA, lead) ? a : tf.broadcastTo(a, [...lead, ...a.shape.slice(-2)]);
  const b2 = tf.util.arraysEqual(leadB, lead) ? b : tf.broadcastTo(b, [...lead, ...b.shape.slice(-2)]);
  return [a2, b2];
}

/** General batched case on wasm: broadcast, explicit transposes, then split or batched kernel. */
function batchedPlain(a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean): tf.Tensor {
  const leadA = a.shape.slice(0, -2);
  const leadB = b.shape.slice(0, -2);
  const lead = tf.broadcast_util.assertAndGetBroadcastShape(leadA, leadB);
  const batch = lead.reduce((p, v) => p * v, 1);
  let a3 = (tA ? swapLast2(a) : a) as tf.Tensor; // [..., M, K]
  let b3 = (tB ? swapLast2(b) : b) as tf.Tensor; // [..., K, N]
  const [M, K] = a3.shape.slice(-2);
  const N = b3.shape[b3.rank - 1];
  if (!tf.util.arraysEqual(leadA, lead)) a3 = tf.broadcastTo(a3, [...lead, M, K]);
  if (!tf.util.arraysEqual(leadB, lead)) b3 = tf.broadcastTo(b3, [...lead, K, N]);
  const a3r = a3.reshape([batch, M, K]) as tf.Tensor3D;
  const b3r = b3.reshape([batch, K, N]) as tf.Tensor3D;
  let c: tf.Tensor3D;
  if (M * K * N >= BMM_SPLIT_MIN_MACS && batch > 1) {
    const as = tf.unstack(a3r) as tf.Tensor2D[];
    const bs = tf.unstack(b3r) as tf.Tensor2D[];
    c = tf.stack(as.map((ai, i) => tf.matMul(ai, bs[i]))) as tf.Tensor3D; // [batch, M, N]
  } else {
    c = tf.matMul(a3r, b3r);
  }
  return c.reshape([...lead, M, N]);
}

/**
 * Batched product for attention: a [BH, N, d] (or [BH, d, N] with transposeA), b [BH, d, M] (or
 * [BH, M, d] with transposeB) -> [BH, N, M]. On wasm each batch entry becomes one XNNPACK product
 * when it is large enough.
 */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D, opts: MatMulOptions = {}): tf.Tensor3D {
  if (a.rank !== 3 || b.rank !== 3) throw new Error(`bmm: operands must be rank 3, got [${a.shape}] and [${b.shape}]`);
  if (a.shape[0] !== b.shape[0]) throw new Error(`bmm: batch sizes differ: a [${a.shape}], b [${b.shape}]`);
  return matMul(a, b, opts) as tf.Tensor3D;
}
