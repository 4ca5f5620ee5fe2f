// Child process for the kill-while-writing test: saves checkpoints in a loop, each with a large tensor
// filled with its iteration number, until killed.
import * as tf from '@tensorflow/tfjs';
import { Checkpointer } from '../../src/checkpoint';

const dir = process.argv[2];
const ckpt = new Checkpointer(dir, 2);
await tf.setBackend('cpu');
for (let it = 1; ; it++) {
  const big = tf.fill([4_000_000], it);
  ckpt.save(`model_${String(it).padStart(7, '0')}`, { model: new Map([['w', big]]), state: { iter: it } });
  big.dispose();
  process.stdout.write(`saved ${it}\n`);
}
