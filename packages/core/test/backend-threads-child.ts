/**
 * Child process of backend-select.test.ts: selects the wasm backend with the thread count given as
 * argv[2], runs a product (large enough for gemm_wasm's helper thread) and a conv gradient, prints one
 * JSON line, and then simply ends — the test checks that the process exits by itself (neither the
 * pthreads nor the GEMM helper threads may hold it open).
 */
import * as tf from '@tensorflow/tfjs';
import { GEMM_THREAD_MIN_MACS, initialisedBackend, selectBackend } from '../src/backend/index';

if (256 ** 3 < GEMM_THREAD_MIN_MACS) throw new Error('the product below no longer reaches the GEMM helper threads');

const threads = Number(process.argv[2] ?? '2');
const info = await selectBackend({ backend: 'wasm', threads, log: () => {} });
const value = tf.tidy(() => {
  const a = tf.ones([256, 256]); // 256³ multiply-adds: split over gemm_threads' helper thread
  const x = tf.ones([1, 8, 8, 4]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 4, 2]) as tf.Tensor4D;
  const gw = tf.grad((ww: tf.Tensor) => tf.sum(tf.conv2d(x, ww as tf.Tensor4D, 1, 'valid')))(w);
  return [tf.sum(tf.matMul(a, a)).dataSync()[0], gw.dataSync()[0]];
});
const pthread = (initialisedBackend('wasm') as unknown as { wasm: { PThread?: { runningWorkers: unknown[] } } }).wasm.PThread;
process.stdout.write(
  `${JSON.stringify({ backend: tf.getBackend(), threads: info.threads, simd: info.simd, runningWorkers: pthread?.runningWorkers.length ?? 0, value })}\n`,
);
