/**
 * Kernel audit (backend/kernel_audit.ts) and the fast-kernel list: a training-like closure (conv,
 * gather, linear, where, topk, gradients) dispatches no kernel missing on wasm once the fast kernels
 * are installed; with tfjs's own gradients it would need Conv2DBackpropFilter, which wasm lacks; an
 * Einsum is flagged.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditKernels, fastKernelList, installFastKernels, setFastGradientsEnabled, withBackend } from '../src/backend/index';
import { conv2d } from '../src/ops/conv';
import { linear } from '../src/ops/linear';

function trainingLikeStep(): tf.Tensor[] {
  const x = tf.randomNormal([1, 6, 6, 3]) as tf.Tensor4D;
  const w = tf.variable(tf.randomNormal([3, 3, 3, 4]));
  const emb = tf.variable(tf.randomNormal([5, 4]));
  const lw = tf.variable(tf.randomNormal([4, 2]));
  const { grads, value } = tf.variableGrads(() => {
    const f = conv2d(x, w as unknown as tf.Tensor4D, { stride: 2, padding: 1 }); // [1,3,3,4]
    const q = tf.gather(emb, tf.tensor1d([0, 3, 3], 'int32')); // [3,4]
    const h = linear(tf.add(f.reshape([9, 4]).slice([0, 0], [3, 4]), q), lw as unknown as tf.Tensor2D);
    const s = tf.where(tf.greater(h, 0), h, tf.mul(h, 0.1));
    return tf.sum(tf.topk(s.reshape([6]), 2).values) as tf.Scalar;
  });
  const out = [value, ...Object.values(grads)];
  tf.dispose([w, emb, lw]);
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  installFastKernels();
});

describe('auditKernels', () => {
  it('a training-like step dispatches nothing missing on wasm with the fast kernels', async () => {
    const audit = await withBackend('cpu', () => auditKernels(trainingLikeStep));
    for (const k of ['Conv2D', 'GatherV2', 'UnsortedSegmentSum', 'BatchMatMul', 'Greater', 'Select', 'TopK']) expect(audit.kernels).toContain(k);
    expect(audit.missing.wasm).toEqual([]);
    // And it really runs there.
    const onWasm = await withBackend('wasm', () => {
      const out = trainingLikeStep();
      const ok = out.every((t) => Array.from(t.dataSync()).every(Number.isFinite));
      tf.dispose(out);
      return ok;
    }, { threads: 2 });
    expect(onWasm).toBe(true);
  });

  it("flags kernels wasm lacks (einsum); tfjs's own conv gradient finds Conv2DBackpropFilter (conv2d_wasm.ts registers it)", async () => {
    const prev = setFastGradientsEnabled(false);
    try {
      const audit = await withBackend('cpu', () => auditKernels(trainingLikeStep));
      expect(audit.kernels).toContain('Conv2DBackpropFilter');
      expect(audit.missing.wasm).not.toContain('Conv2DBackpropFilter');
    } finally {
      setFastGradientsEnabled(prev);
    }
    const e = await withBackend('cpu', () => auditKernels(() => tf.einsum('ij,jk->ik', tf.ones([2, 3]), tf.ones([3, 2]))));
    expect(e.missing.wasm).toEqual(['Einsum']);
    expect(e.kernels).toEqual(['Einsum']);
  });
});

describe('fastKernelList', () => {
  it('lists every override and kernel with a reason, each installed', () => {
    const list = fastKernelList();
    const names = list.map((e) => e.name);
    for (const k of ['Conv2D', 'Conv2DBackpropInput', 'DepthwiseConv2dNative', 'BatchMatMul', 'GatherNd', 'TopK', 'StridedSlice', 'Greater', 'LogicalAnd', 'UnsortedSegmentSum', 'Conv2DBackpropFilter']) {
      expect(names).toContain(k);
    }
    for (const e of list) {
      expect(e.why.length).toBeGreaterThan(20);
      if (e.type === 'gradient') expect(tf.getGradient(e.name)).toBeTruthy();
      else expect(tf.getKernel(e.name, 'wasm')).toBeTruthy();
    }
  });
});
