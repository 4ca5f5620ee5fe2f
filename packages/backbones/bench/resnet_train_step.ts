/**
 * Forward and forward+backward time of a detr-ts ResNet (default: ResNet-18, batch 2x128x128) on the
 * tfjs backends available in Node, as the small configs train it.
 *
 *   npx tsx packages/backbones/bench/resnet_train_step.ts [--depth 18] [--size 128] [--batch 2]
 *       [--freeze-at 0] [--rounds 5] [--backends cpu,wasm] [--threads 2] [--no-fast]
 *
 * Backends are set up by @detr/core's withBackend (wasm with SIMD and threads, and core's fast
 * kernels / gradient overrides installed); --no-fast measures tfjs's own gradients instead.
 * Loss = sum of res2..res5 (so every stage is on the tape). Reported per backend: median ms of
 * forward only and of forward + backward (tf.variableGrads over the trainable variables), after one
 * warm-up round, plus the tensor count before/after (a leak check). Other work on the machine makes
 * timings noisy: compare medians taken in the same process.
 */
import * as tf from '@tensorflow/tfjs';
import { setFastGradientsEnabled, withBackend } from '@detr/core';
import { ResNet, type ResNetDepth } from '../src/index';

function arg(flag: string, fallback: string): string {
  const k = process.argv.indexOf(flag);
  return k >= 0 ? process.argv[k + 1] : fallback;
}
const depth = Number(arg('--depth', '18')) as ResNetDepth;
const size = Number(arg('--size', '128'));
const batch = Number(arg('--batch', '2'));
const freezeAt = Number(arg('--freeze-at', '0'));
const rounds = Number(arg('--rounds', '5'));
const backends = arg('--backends', 'cpu,wasm').split(',') as ('cpu' | 'wasm')[];
const threads = Number(arg('--threads', '2'));
const fast = !process.argv.includes('--no-fast');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function benchBackend(name: string): Promise<void> {
  setFastGradientsEnabled(fast);
  const model = new ResNet({ depth, out_features: ['res2', 'res3', 'res4', 'res5'], freeze_at: freezeAt });
  const vars = model.trainableVariables().map((v) => v.variable);
  const x = tf.randomNormal([batch, size, size, 3]) as tf.Tensor4D;
  const loss = () => tf.tidy(() => tf.addN(Object.values(model.forward(x)).map((t) => t.mean())) as tf.Scalar);
  const fwd: number[] = [];
  const fwdBwd: number[] = [];
  const tensorsBefore = tf.memory().numTensors;
  for (let r = 0; r <= rounds; r++) {
    const t0 = performance.now();
    const l = loss();
    await l.data();
    if (r > 0) fwd.push(performance.now() - t0);
    l.dispose();
  }
  for (let r = 0; r <= rounds; r++) {
    const t0 = performance.now();
    try {
      const { value, grads } = tf.variableGrads(loss, vars);
      await Promise.all(Object.values(grads).map((g) => g.data()));
      if (r > 0) fwdBwd.push(performance.now() - t0);
      tf.dispose([value, ...Object.values(grads)]);
    } catch (err) {
      console.log(`${name}: forward+backward failed: ${(err as Error).message}`);
      break;
    }
  }
  const leak = tf.memory().numTensors - tensorsBefore;
  console.log(
    `${name}${name === 'wasm' ? ` (${threads} threads)` : ''}, ${fast ? 'fast' : 'tfjs'} gradients: ResNet-${depth} ${batch}x${size}x${size}, freeze_at ${freezeAt}, ${vars.length} trainable tensors: ` +
      `forward ${median(fwd).toFixed(0)} ms, forward+backward ${fwdBwd.length ? median(fwdBwd).toFixed(0) + ' ms' : 'n/a'} ` +
      `(median of ${rounds}; tensor count change ${leak}${fwdBwd.length ? '' : ', from the failed step'})`,
  );
  x.dispose();
  model.dispose();
}

for (const b of backends) await withBackend(b, () => benchBackend(b), { threads });
if (backends.includes('wasm')) tf.removeBackend('wasm'); // ends the wasm worker threads so the process exits
