/**
 * Op benchmark (issue 6's table, tfjs rows): matmul 1024³ (plain, transposeA, transposeB), conv 3x3
 * 64->64 on 2x64x64 forward and forward+backward, a transformer encoder layer (d256, 8 heads, FFN 2048,
 * seq 1024, batch 2) forward+backward, softmax 16x1024x1024; plus the rows that justify choices in
 * packages/core (batched-matmul split threshold, dilated-conv method, UnsortedSegmentSum kernel).
 * Each backend configuration runs in its own process (cpu, wasm 1 thread, wasm 2 threads); rows are
 * timed in interleaved rounds; medians are printed with ratios against a baseline row of the same
 * process.
 *
 *   npx tsx bench/ops.ts                      # cpu (slowest cpu rows skipped), wasm:1, wasm:2
 *   npx tsx bench/ops.ts --configs wasm:2     # one configuration
 *   npx tsx bench/ops.ts --full-cpu           # also the cpu rows that take minutes
 *   npx tsx bench/ops.ts --torch-script > /tmp/torch_ops.py
 *   /usr/bin/python3 /tmp/torch_ops.py 1 > /tmp/t1.json; /usr/bin/python3 /tmp/torch_ops.py 2 > /tmp/t2.json
 *   npx tsx bench/ops.ts --torch /tmp/t1.json,/tmp/t2.json   # adds tfjs / PyTorch ratios
 *   (PyTorch on Debian: apt-get install python3-torch libopenblas0-pthread; without OpenBLAS it uses
 *   the reference BLAS, ~100x slower on matmul)
 *   options: --rounds N (default 7), --budget-ms N per row (default 20000), --json FILE (raw results),
 *            --rows REGEX (only rows whose name matches; their baseline rows are kept)
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { bmm, conv2d, linear, matMul, setFastBatchMatMulEnabled, setFastGradientsEnabled, setGemmFma, setOwnConvEnabled, setOwnGemmMinMacs } from '@detr/core';
import { attentionWeights } from '@detr/transformers';
import { type BenchRow, type RowResult, describeBackend, exitWithUsageOnHelp, fmtMs, machineLine, printTable, runChild, runRows, setupBackend } from './common';

interface Args {
  configs: string[];
  child?: string;
  fullCpu: boolean;
  rounds: number;
  budgetMs: number;
  torch?: string;
  json?: string;
  torchScript: boolean;
  rows?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { configs: ['cpu', 'wasm:1', 'wasm:2'], fullCpu: false, rounds: 7, budgetMs: 20_000, torchScript: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const val = argv[++i];
      if (val === undefined) throw new Error(`bench/ops.ts: ${k} needs a value`);
      return val;
    };
    if (k === '--configs') a.configs = v().split(',');
    else if (k === '--child') a.child = v();
    else if (k === '--full-cpu') a.fullCpu = true;
    else if (k === '--rounds') a.rounds = Number(v());
    else if (k === '--budget-ms') a.budgetMs = Number(v());
    else if (k === '--torch') a.torch = v();
    else if (k === '--json') a.json = v();
    else if (k === '--torch-script') a.torchScript = true;
    else if (k === '--rows') a.rows = v();
    else throw new Error(`bench/ops.ts: unknown option ${k}`);
  }
  return a;
}

// ---------------------------------------------------------------- workloads

const D = 256;
const HEADS = 8;
const FFN = 2048;
const SEQ = 1024;
const BATCH = 2;

function rand(shape: number[], scale = 1): tf.Tensor {
  return tf.mul(tf.randomUniform(shape, -1, 1, 'float32', 7), scale);
}

interface LayerParams {
  wqkv: tf.Tensor2D;
  bqkv: tf.Tensor1D;
  wo: tf.Tensor2D;
  bo: tf.Tensor1D;
  w1: tf.Tensor2D;
  b1: tf.Tensor1D;
  w2: tf.Tensor2D;
  b2: tf.Tensor1D;
  g1: tf.Tensor1D;
  be1: tf.Tensor1D;
  g2: tf.Tensor1D;
  be2: tf.Tensor1D;
}

function layerParams(): LayerParams {
  const s = 1 / Math.sqrt(D);
  return {
    wqkv: rand([D, 3 * D], s) as tf.Tensor2D,
    bqkv: rand([3 * D], 0.1) as tf.Tensor1D,
    wo: rand([D, D], s) as tf.Tensor2D,
    bo: rand([D], 0.1) as tf.Tensor1D,
    w1: rand([D, FFN], s) as tf.Tensor2D,
    b1: rand([FFN], 0.1) as tf.Tensor1D,
    w2: rand([FFN, D], 1 / Math.sqrt(FFN)) as tf.Tensor2D,
    b2: rand([D], 0.1) as tf.Tensor1D,
    g1: tf.ones([D]) as tf.Tensor1D,
    be1: tf.zeros([D]) as tf.Tensor1D,
    g2: tf.ones([D]) as tf.Tensor1D,
    be2: tf.zeros([D]) as tf.Tensor1D,
  };
}

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}

/**
 * Post-norm encoder layer (torch.nn.TransformerEncoderLayer(256, 8, 2048, dropout=0)), x [B, N, D].
 * 'fast': ops/linear + ops/bmm on [B·H, N, dh]; 'naive': tf.matMul with rank-3/4 operands and flags.
 */
function encoderLayer(x: tf.Tensor, p: LayerParams, layout: 'fast' | 'naive'): tf.Tensor {
  const dh = D / HEADS;
  const lin = (t: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D) => (layout === 'fast' ? linear(t, w, b) : tf.add(tf.matMul(t, w), b));
  const qkv = lin(x, p.wqkv, p.bqkv).reshape([BATCH, SEQ, 3, HEADS, dh]);
  const heads = tf.transpose(qkv, [2, 0, 3, 1, 4]); // [3, B, H, N, dh]
  const [q, k, v] = tf.unstack(heads) as tf.Tensor4D[]; // [B, H, N, dh] each
  let o: tf.Tensor;
  if (layout === 'fast') {
    const q3 = tf.mul(q.reshape([BATCH * HEADS, SEQ, dh]), 1 / Math.sqrt(dh)) as tf.Tensor3D;
    // The framework's attention op (softmax(q kᵀ) with a hand-written gradient, as MultiheadAttention uses).
    const weights = attentionWeights(q3, k.reshape([BATCH * HEADS, SEQ, dh]) as tf.Tensor3D, null, BATCH, HEADS); // [BH, N, N]
    o = bmm(weights, v.reshape([BATCH * HEADS, SEQ, dh]) as tf.Tensor3D).reshape([BATCH, HEADS, SEQ, dh]);
  } else {
    const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(dh)), k, false, true); // [B, H, N, N]
    o = tf.matMul(tf.softmax(scores), v);
  }
  const merged = tf.transpose(o, [0, 2, 1, 3]).reshape([BATCH, SEQ, D]);
  const x1 = layerNorm(tf.add(x, lin(merged, p.wo, p.bo)), p.g1, p.be1);
  const f = lin(tf.relu(lin(x1, p.w1, p.b1)), p.w2, p.b2);
  return layerNorm(tf.add(x1, f), p.g2, p.be2);
}

function encoderFlops(): number {
  const n = BATCH * SEQ;
  const linears = 2 * n * (D * 3 * D + D * D + 2 * D * FFN);
  const attention = 2 * 2 * BATCH * HEADS * SEQ * SEQ * (D / HEADS);
  return linears + attention;
}

/** Forward + backward w.r.t. the input and every parameter, loss = Σ out ⊙ R. */
function encoderStep(x: tf.Tensor, p: LayerParams, r: tf.Tensor, layout: 'fast' | 'naive'): tf.Tensor[] {
  const names = Object.keys(p) as (keyof LayerParams)[];
  const f = (...args: tf.Tensor[]) => {
    const q = Object.fromEntries(names.map((n, i) => [n, args[i + 1]])) as unknown as LayerParams;
    return tf.sum(tf.mul(encoderLayer(args[0], q, layout), r));
  };
  return tf.grads(f)([x, ...names.map((n) => p[n])]);
}

function rows(kind: string, fullCpu: boolean): BenchRow[] {
  const cpu = kind === 'cpu';
  const slowCpu = cpu && !fullCpu ? 'cpu: takes minutes (run with --full-cpu)' : undefined;
  const A = rand([1024, 1024]);
  const B = rand([1024, 1024]);
  const x = rand([2, 64, 64, 64]) as tf.Tensor4D;
  const w = rand([3, 3, 64, 64], 1 / 24) as tf.Tensor4D;
  const R = rand([2, 64, 64, 64]);
  const convFlops = 2 * 2 * 64 * 64 * 64 * 64 * 9;
  const convStep = (extra: Parameters<typeof conv2d>[2] = {}) =>
    tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, { padding: 1, ...extra }), R)))([x, w]);
  const convStepDil = (method: 'native' | 'space-to-batch') =>
    tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, { padding: 2, dilation: 2, dilatedMethod: method }), R)))([x, w]);
  const ex = rand([BATCH, SEQ, D]);
  const er = rand([BATCH, SEQ, D]);
  const p = layerParams();
  const S = rand([16, 1024, 1024]);
  const H = rand([2048, 2048]);
  const Q = rand([16, 1024, 64]);
  const K = rand([16, 64, 1024]);
  const bmmCases: [number, number, number, number][] = [
    [64, 16, 16, 16],
    [64, 24, 24, 24],
    [64, 32, 32, 32],
    [64, 48, 48, 48],
    [16, 100, 32, 100],
    [16, 300, 32, 300],
  ];
  const bmmTensors = bmmCases.map(([b, m, k, n]) => [rand([b, m, k]), rand([b, k, n])] as [tf.Tensor3D, tf.Tensor3D]);
  const segX = rand([900, 256]);
  const segIds = tf.randomUniform([900], 0, 2000, 'int32', 3) as tf.Tensor1D;
  const useUpstream = { setup: () => setFastGradientsEnabled(false), teardown: () => setFastGradientsEnabled(true) };
  const wasm = kind === 'wasm';
  // tfjs-wasm's own BatchMatMul kernel (detr-ts replaces it on wasm; see backend/batch_matmul_wasm.ts).
  const tfjsKernel = { setup: () => setFastBatchMatMulEnabled(false), teardown: () => setFastBatchMatMulEnabled(true) };
  // The own GEMM without the fused kernel (XNNPACK's bits), and XNNPACK's convolution instead of conv2d_wasm.ts.
  let prevFma = true;
  const noFma = { setup: () => (prevFma = setGemmFma(false)), teardown: () => setGemmFma(prevFma) };
  let prevConv = true;
  const onXnnpackConv = { setup: () => (prevConv = setOwnConvEnabled(false)), teardown: () => setOwnConvEnabled(prevConv) };
  // Plain 2-d products on XNNPACK (tfjs-wasm's own fast path) instead of backend/gemm_wasm.ts.
  let prevOwn: number | null = null;
  const onXnnpack = { setup: () => (prevOwn = setOwnGemmMinMacs(Infinity)), teardown: () => setOwnGemmMinMacs(prevOwn) };
  const onlyWasm = wasm ? undefined : 'wasm-only comparison';
  const out: BenchRow[] = [
    { name: 'matmul 1024^3', fn: () => tf.matMul(A, B), flops: 2 * 1024 ** 3 },
    { name: 'matmul 1024^3 (XNNPACK GEMM)', fn: () => tf.matMul(A, B), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3', skip: onlyWasm, ...onXnnpack },
    { name: 'matmul 1024^3 (own GEMM, no FMA)', fn: () => tf.matMul(A, B), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3', skip: onlyWasm, ...noFma },
    { name: 'matmul 1024^3 transposeA (tf.matMul flag)', fn: () => tf.matMul(A, B, true, false), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3' },
    { name: 'matmul 1024^3 transposeA (ops matMul)', fn: () => matMul(A, B, { transposeA: true }), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3' },
    { name: 'matmul 1024^3 transposeA (tfjs-wasm kernel)', fn: () => tf.matMul(A, B, true, false), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3', skip: onlyWasm, ...tfjsKernel },
    { name: 'matmul 1024^3 transposeB (tf.matMul flag)', fn: () => tf.matMul(A, B, false, true), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3' },
    { name: 'matmul 1024^3 transposeB (tfjs-wasm kernel)', fn: () => tf.matMul(A, B, false, true), flops: 2 * 1024 ** 3, baseline: 'matmul 1024^3', skip: onlyWasm, ...tfjsKernel },
    { name: 'conv3x3 64->64 2x64x64 fwd', fn: () => conv2d(x, w, { padding: 1 }), flops: convFlops },
    { name: 'conv3x3 fwd (XNNPACK convolution)', fn: () => conv2d(x, w, { padding: 1 }), flops: convFlops, baseline: 'conv3x3 64->64 2x64x64 fwd', skip: onlyWasm, ...onXnnpackConv },
    { name: 'conv3x3 fwd+bwd (detr-ts gradient)', fn: () => convStep(), flops: 3 * convFlops, baseline: 'conv3x3 64->64 2x64x64 fwd' },
    {
      name: 'conv3x3 fwd+bwd (tfjs gradient)',
      fn: () => convStep(),
      flops: 3 * convFlops,
      baseline: 'conv3x3 64->64 2x64x64 fwd',
      skip: slowCpu, // on wasm: tfjs-wasm's Conv2DBackpropInput and detr-ts's Conv2DBackpropFilter kernel
      ...useUpstream,
    },
    { name: 'conv3x3 dil2 fwd+bwd (native dilated conv)', fn: () => convStepDil('native'), flops: 3 * convFlops, baseline: 'conv3x3 fwd+bwd (detr-ts gradient)' },
    { name: 'conv3x3 dil2 fwd+bwd (space-to-batch)', fn: () => convStepDil('space-to-batch'), flops: 3 * convFlops, baseline: 'conv3x3 fwd+bwd (detr-ts gradient)' },
    { name: 'transformer layer d256 seq1024 b2 fwd+bwd (ops)', fn: () => encoderStep(ex, p, er, 'fast'), flops: 3 * encoderFlops(), skip: slowCpu },
    {
      // tfjs's own BatchMatMul gradient cannot even run this layer: it does not reduce the broadcast
      // batch of x[B,N,C]·W[C,O] (shape error); so only the forward layout differs here.
      name: 'transformer layer fwd+bwd (naive layout: batched tf.matMul with flags)',
      fn: () => encoderStep(ex, p, er, 'naive'),
      flops: 3 * encoderFlops(),
      baseline: 'transformer layer d256 seq1024 b2 fwd+bwd (ops)',
      skip: slowCpu,
    },
    { name: 'softmax 16x1024x1024', fn: () => tf.softmax(S) },
    // backend/transpose_wasm.ts (blocked JS copy on wasm) and backend/sum_wasm.ts (rows added in JS).
    { name: 'transpose 16x1024x1024 perm [0,2,1]', fn: () => tf.transpose(S, [0, 2, 1]) },
    { name: 'sum over rows 2048x2048 (a bias gradient)', fn: () => tf.sum(H, 0) },
    { name: 'sum over the last axis 2048x2048', fn: () => tf.sum(H, 1), baseline: 'sum over rows 2048x2048 (a bias gradient)' },
    { name: 'bmm 16x(1024x64 . 64x1024) (ops bmm)', fn: () => bmm(Q as tf.Tensor3D, K as tf.Tensor3D), flops: 2 * 16 * 1024 * 64 * 1024 },
    { name: 'bmm 16x(1024x64 . 64x1024) (tf.matMul)', fn: () => tf.matMul(Q, K), flops: 2 * 16 * 1024 * 64 * 1024, baseline: 'bmm 16x(1024x64 . 64x1024) (ops bmm)', skip: slowCpu },
    {
      name: 'bmm 16x(1024x64 . 64x1024) (tfjs-wasm kernel)',
      fn: () => tf.matMul(Q, K),
      flops: 2 * 16 * 1024 * 64 * 1024,
      baseline: 'bmm 16x(1024x64 . 64x1024) (ops bmm)',
      skip: onlyWasm,
      ...tfjsKernel,
    },
    // Small batched products (the decoder's attention): backend/gemm_wasm.ts against tfjs-wasm's loop.
    ...bmmCases.flatMap(([b, m, k, n], i): BenchRow[] => {
      const [a3, b3] = bmmTensors[i];
      const name = `bmm ${b}x(${m}x${k} . ${k}x${n})`;
      return [
        { name, fn: () => tf.matMul(a3, b3), flops: 2 * b * m * k * n, skip: onlyWasm },
        { name: `${name} (tfjs-wasm kernel)`, fn: () => tf.matMul(a3, b3), flops: 2 * b * m * k * n, baseline: name, skip: onlyWasm, ...tfjsKernel },
      ];
    }),
    {
      name: 'unsortedSegmentSum [900,256] -> 2000 (gather bwd)',
      fn: () => tf.unsortedSegmentSum(segX, segIds, 2000),
      // tfjs-cpu's kernel loops over the segments (O(segments x input)): 80 s here.
      skip: slowCpu,
    },
    {
      name: 'one-hot matmul alternative',
      fn: () => tf.matMul(tf.transpose(tf.oneHot(segIds, 2000, 1, 0, 'float32')), segX),
      baseline: 'unsortedSegmentSum [900,256] -> 2000 (gather bwd)',
      skip: onlyWasm,
    },
  ];
  return out;
}

// ---------------------------------------------------------------- PyTorch side (run outside the project)

const TORCH_SCRIPT = String.raw`# PyTorch timings for bench/ops.ts --torch (CPU, float32, medians of 7 after a warm-up).
# Usage: python3 torch_ops.py THREADS > torch_THREADS.json   (one thread count per process: the BLAS
# thread pool, e.g. OpenBLAS's, is sized from the environment before torch is imported)
import json, os, sys, time
THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[var] = str(THREADS)
import torch
torch.manual_seed(0)
def med(f, n=7):
    f(); ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append((time.perf_counter() - t) * 1e3)
    ts.sort(); return ts[len(ts) // 2]
def run(threads):
    torch.set_num_threads(threads)
    A = torch.rand(1024, 1024) * 2 - 1; B = torch.rand(1024, 1024) * 2 - 1
    x = torch.rand(2, 64, 64, 64, requires_grad=True); w = (torch.rand(64, 64, 3, 3) / 12).requires_grad_()
    R = torch.rand(2, 64, 64, 64)
    def conv_step():
        y = torch.nn.functional.conv2d(x, w, padding=1); torch.autograd.grad((y * R).sum(), [x, w])
    layer = torch.nn.TransformerEncoderLayer(256, 8, 2048, dropout=0.0, batch_first=True)
    ex = torch.rand(2, 1024, 256, requires_grad=True); er = torch.rand(2, 1024, 256)
    def layer_step():
        torch.autograd.grad((layer(ex) * er).sum(), [ex, *layer.parameters()])
    S = torch.rand(16, 1024, 1024)
    H = torch.rand(2048, 2048)
    Q = torch.rand(16, 1024, 64); K = torch.rand(16, 64, 1024)
    with torch.no_grad():
        r = {
            'matmul 1024^3': med(lambda: A @ B),
            'matmul 1024^3 transposeA (tf.matMul flag)': med(lambda: A.t() @ B),
            'conv3x3 64->64 2x64x64 fwd': med(lambda: torch.nn.functional.conv2d(x, w, padding=1)),
            'softmax 16x1024x1024': med(lambda: torch.softmax(S, -1)),
            'transpose 16x1024x1024 perm [0,2,1]': med(lambda: S.transpose(1, 2).contiguous()),
            'sum over rows 2048x2048 (a bias gradient)': med(lambda: H.sum(0)),
            'bmm 16x(1024x64 . 64x1024) (ops bmm)': med(lambda: torch.bmm(Q, K)),
        }
    r['conv3x3 fwd+bwd (detr-ts gradient)'] = med(conv_step)
    r['transformer layer d256 seq1024 b2 fwd+bwd (ops)'] = med(layer_step)
    return r
print(json.dumps({'torch': torch.__version__, 'results': {str(THREADS): run(THREADS)}}))
`;

// ---------------------------------------------------------------- driver

interface ChildResult {
  config: string;
  backend: string;
  machine: string;
  rows: RowResult[];
}

async function child(args: Args): Promise<void> {
  const spec = args.child as string;
  const info = await setupBackend(spec);
  const log = (l: string) => process.stderr.write(`[${spec}] ${l}\n`);
  log(`backend ${describeBackend(info)}; ${machineLine()}`);
  let all = rows(info.kind, args.fullCpu);
  if (args.rows) {
    const re = new RegExp(args.rows);
    const wanted = new Set(all.filter((r) => re.test(r.name)).flatMap((r) => (r.baseline ? [r.name, r.baseline] : [r.name])));
    all = all.filter((r) => wanted.has(r.name));
  }
  const results = runRows(all, { rounds: args.rounds, rowBudgetMs: args.budgetMs, log });
  const res: ChildResult = { config: spec, backend: describeBackend(info), machine: machineLine(), rows: results };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

function report(all: ChildResult[], torch: { results: Record<string, Record<string, number>> } | null): void {
  console.log(`\nbench/ops.ts — ${all[0]?.machine ?? machineLine()}`);
  console.log('median ms (GFLOP/s); "x base" = this row / its baseline row, same process\n');
  const names = all[0].rows.map((r) => r.name);
  const header = ['op', ...all.flatMap((c) => [c.backend, 'x base'])];
  const table = [header];
  for (const name of names) {
    const cells = [name];
    for (const c of all) {
      const r = c.rows.find((x) => x.name === name) as RowResult;
      if (r.medianMs == null) cells.push('skip', '');
      else cells.push(`${fmtMs(r.medianMs)}${r.gflops ? ` (${r.gflops.toFixed(r.gflops < 1 ? 2 : 1)})` : ''}`, r.ratio ? `${r.ratio.toFixed(2)}x` : '');
    }
    table.push(cells);
  }
  printTable(table);
  const skips = all.flatMap((c) => c.rows.filter((r) => r.skipped).map((r) => `${c.backend}: ${r.name}: ${r.skipped}`));
  if (skips.length) console.log(`\nskipped:\n  ${skips.join('\n  ')}`);
  if (torch) {
    console.log('\ntfjs / PyTorch (same machine; PyTorch with the same thread count; wasm 1t vs torch 1, wasm 2t vs torch 2)\n');
    const t = [['op', ...all.filter((c) => c.config.startsWith('wasm')).map((c) => `${c.backend} / torch`)]];
    const names = [...new Set(Object.values(torch.results).flatMap((r) => Object.keys(r)))];
    for (const name of names) {
      const cells = [name];
      for (const c of all.filter((x) => x.config.startsWith('wasm'))) {
        const threads = c.config.split(':')[1] ?? '1';
        const ref = torch.results[threads]?.[name];
        const mine = c.rows.find((x) => x.name === name)?.medianMs;
        cells.push(ref && mine ? `${(mine / ref).toFixed(2)}x (${fmtMs(mine)} / ${fmtMs(ref)})` : '-');
      }
      t.push(cells);
    }
    printTable(t);
  }
}

async function main(): Promise<void> {
  exitWithUsageOnHelp(import.meta.url, process.argv.slice(2));
  const args = parseArgs(process.argv.slice(2));
  if (args.torchScript) {
    process.stdout.write(TORCH_SCRIPT);
    return;
  }
  if (args.child) return child(args);
  const passOn = [
    '--rounds',
    String(args.rounds),
    '--budget-ms',
    String(args.budgetMs),
    ...(args.fullCpu ? ['--full-cpu'] : []),
    ...(args.rows ? ['--rows', args.rows] : []),
  ];
  const all: ChildResult[] = [];
  for (const config of args.configs) {
    console.error(`running ${config} ...`);
    all.push(runChild<ChildResult>(import.meta.url, ['--child', config, ...passOn]));
  }
  const torchResults: Record<string, Record<string, number>> = {};
  for (const file of args.torch ? args.torch.split(',') : []) {
    Object.assign(torchResults, (JSON.parse(fs.readFileSync(file, 'utf8')) as { results: Record<string, Record<string, number>> }).results);
  }
  const torch = args.torch ? { results: torchResults } : null;
  report(all, torch);
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ results: all, torch }, null, 1));
}

await main();
