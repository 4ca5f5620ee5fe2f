/**
 * Loads tfjs-backend-wasm in Node with SIMD and, when asked for more than one thread, the threaded
 * SIMD build (XNNPACK's thread pool), from the npm package's own .wasm files (nothing is downloaded).
 *
 * tfjs 4.22 disables threads in Node (`WASM_HAS_MULTITHREAD_SUPPORT` returns false when IS_NODE,
 * tfjs issue #3830) and hands Emscripten its pthread worker as a `blob:` URL, which Node's `Worker`
 * cannot open. The workaround (checked on this machine, /work/shared/PERF-NOTES.md "Threads in Node"):
 *  1. set the flag to true;
 *  2. write the worker script the package ships (`wasm-out/...threaded-simd.worker.js`, exported as a
 *     string) to a real `.cjs` file (in os.tmpdir(), named by its content hash), changed to load the
 *     threaded factory file `wasm-out/tfjs-backend-wasm-threaded-simd.js` directly instead of the
 *     blob it is sent;
 *  3. return that file's path where Emscripten calls `URL.createObjectURL` for the worker;
 *  4. tell the C++ side the thread count: `setThreadsCount(n)`, and, because `init_with_threads_count`
 *     caps it at `emscripten_num_logical_cores() / 2` (it assumes SMT; Node's `os.cpus().length`),
 *     let `os.cpus()` report at least 2n entries while the module initialises;
 *  5. the pthreads keep the event loop alive: unref them, and remove the backend (which terminates
 *     them) on `beforeExit`, so a script ends by itself;
 *  6. load a copy of the threaded binary whose thread pool spin-waits 10,000 instead of 1,000,000
 *     iterations before sleeping (wasm_pool_spin.ts): with the upstream spin, 2 threads were slower than
 *     1 whenever the process had only one core to itself (a shared machine), see there.
 * Every step reads tfjs 4.22.0 internals, so the version is checked first.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_POOL_SPIN_ITERATIONS, UPSTREAM_POOL_SPIN_ITERATIONS, encodeSpinConst, writeContentAddressedTempFile, writePatchedThreadedBinary } from './wasm_pool_spin';

/** The tfjs-backend-wasm version the thread workaround was written against. */
export const PINNED_WASM_VERSION = '4.22.0';
/** Emscripten's PTHREAD_POOL_SIZE in this build; the C++ side caps the pool at this size too. */
export const MAX_WASM_THREADS = 8;

const require = createRequire(import.meta.url);

/** A wasm setup request that conflicts with how this process already initialised it. */
export class WasmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmConfigError';
  }
}

export interface WasmInitResult {
  /** Threads in XNNPACK's pool as reported by the C++ side. */
  threads: number;
  /** Threads asked for (after capping at MAX_WASM_THREADS). */
  requestedThreads: number;
  simd: boolean;
  /** Whether the threaded SIMD build was loaded (false: the single-thread SIMD build). */
  threadedBuild: boolean;
  /** The thread pool's spin-wait iterations in the loaded threaded binary (null: single-thread build). */
  poolSpinIterations: number | null;
}

/** Spin-wait setting of the thread pool: an iteration count, or 'upstream' (the unpatched binary). */
export type PoolSpinSetting = number | 'upstream';

interface WasmPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  setWasmPaths(fileMap: Record<string, string>): void;
  version_wasm: string;
}

/** The worker script text where the shipped script loads the main script from the URL/blob it is sent. */
const WORKER_LOAD_MAIN_SCRIPT =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

let initResult: WasmInitResult | null = null;
let initPromise: Promise<WasmInitResult> | null = null;

/** How the wasm backend of this process was initialised, or null before `initWasmBackend`. */
export function wasmInitResult(): WasmInitResult | null {
  return initResult;
}

/** Default thread count: every logical core (capped at the build's pool size). */
export function defaultWasmThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, MAX_WASM_THREADS));
}

async function importWasmPackage(): Promise<WasmPackage> {
  const mod = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmPackage & { default?: WasmPackage };
  const pkg = typeof mod.setThreadsCount === 'function' ? mod : mod.default;
  if (!pkg || typeof pkg.setThreadsCount !== 'function' || typeof pkg.getThreadsCount !== 'function' || typeof pkg.setWasmPaths !== 'function') {
    throw new Error('@tensorflow/tfjs-backend-wasm does not export setThreadsCount/getThreadsCount/setWasmPaths (is it 4.22.0?)');
  }
  return pkg;
}

function wasmPackageDir(): string {
  // main: <pkg>/dist/tf-backend-wasm.node.js
  return path.dirname(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')));
}

/**
 * The pool spin setting: `opt`, else env DETR_WASM_POOL_SPIN ('upstream' or a count), else
 * DEFAULT_POOL_SPIN_ITERATIONS. A bad value throws, naming its source.
 */
export function resolvePoolSpin(opt?: PoolSpinSetting): PoolSpinSetting {
  const env = process.env.DETR_WASM_POOL_SPIN;
  const [value, source] = opt !== undefined ? [opt, 'poolSpinIterations'] : env !== undefined && env !== '' ? [env, 'DETR_WASM_POOL_SPIN'] : [DEFAULT_POOL_SPIN_ITERATIONS, 'default'];
  if (value === 'upstream') return value;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  try {
    encodeSpinConst(n); // range check
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message.replace(/, got .*/, '')} or 'upstream', got '${value}'`);
  }
  return n;
}

/** Points tfjs's loader at a copy of the threaded SIMD binary with the pool spin set to `iterations`. */
function loadPatchedThreadedBinary(pkg: WasmPackage, pkgDir: string, iterations: number): void {
  // The node bundle's Emscripten scriptDirectory is dist/, where tfjs finds the binaries by default.
  const dist = path.join(pkgDir, 'dist');
  const binary = (name: string): string => {
    const file = path.join(dist, name);
    if (!fs.existsSync(file)) throw new Error(`wasm: ${file} is missing from @tensorflow/tfjs-backend-wasm (expected in ${PINNED_WASM_VERSION})`);
    return file;
  };
  pkg.setWasmPaths({
    'tfjs-backend-wasm.wasm': binary('tfjs-backend-wasm.wasm'),
    'tfjs-backend-wasm-simd.wasm': binary('tfjs-backend-wasm-simd.wasm'),
    'tfjs-backend-wasm-threaded-simd.wasm': writePatchedThreadedBinary(binary('tfjs-backend-wasm-threaded-simd.wasm'), iterations),
  });
}

/** Writes the patched pthread worker script to a fresh temp folder; returns its path. */
function writeWorkerScript(pkgDir: string): string {
  const workerModule = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  const factoryFile = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  for (const f of [workerModule, factoryFile]) {
    if (!fs.existsSync(f)) throw new Error(`wasm threads: ${f} is missing from @tensorflow/tfjs-backend-wasm (expected in ${PINNED_WASM_VERSION})`);
  }
  const contents = (require(workerModule) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string') {
    throw new Error(`wasm threads: ${workerModule} no longer exports wasmWorkerContents (tfjs internals changed since ${PINNED_WASM_VERSION})`);
  }
  // The contents come from a template literal: "\n" escapes inside its JS strings became real newlines,
  // which tfjs turns back into escapes before making its blob (backend_wasm.ts locateFile).
  const source = contents.replace(/\n/g, '\\n');
  if (!source.includes(WORKER_LOAD_MAIN_SCRIPT)) {
    throw new Error(`wasm threads: the pthread worker script of @tensorflow/tfjs-backend-wasm changed (tfjs internals changed since ${PINNED_WASM_VERSION}); run with threads: 1`);
  }
  const patched = source.replace(WORKER_LOAD_MAIN_SCRIPT, `importScripts(${JSON.stringify(factoryFile)});`);
  // Shared by all processes and never deleted: a running process's pool may still spawn workers from it.
  // .cjs: the worker uses require(); a .js file could be read as ESM under a "type": "module" package.
  return writeContentAddressedTempFile(`detr-tfjs-wasm-${PINNED_WASM_VERSION}`, 'threaded-simd.worker', '.cjs', patched);
}

/** Runs `fn` while URL.createObjectURL returns `workerPath` for JavaScript blobs and os.cpus() reports >= minCpus. */
async function withInitPatches<T>(workerPath: string, minCpus: number, fn: () => Promise<T>): Promise<T> {
  const origCreateObjectURL = URL.createObjectURL;
  // The CJS `os` module object: the wasm bundle calls require('os').cpus() for emscripten_num_logical_cores.
  const osModule = require('node:os') as typeof os;
  const origCpus = osModule.cpus;
  URL.createObjectURL = (obj: Blob) => (obj instanceof Blob && /javascript/.test(obj.type) ? workerPath : origCreateObjectURL(obj));
  osModule.cpus = () => {
    const cpus = origCpus.call(osModule);
    while (cpus.length > 0 && cpus.length < minCpus) cpus.push(cpus[0]);
    return cpus;
  };
  try {
    return await fn();
  } finally {
    URL.createObjectURL = origCreateObjectURL;
    osModule.cpus = origCpus;
  }
}

async function setBackendCapturingWarnings(name: string): Promise<void> {
  const warnings: string[] = [];
  const origWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  };
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } finally {
    console.warn = origWarn;
  }
  if (!ok) throw new Error(`tf.setBackend('${name}') failed${warnings.length ? `: ${warnings.join(' | ')}` : ''}`);
  for (const w of warnings) origWarn(w);
}

interface EmscriptenWorker {
  unref(): void;
}

/**
 * The backend instance registered under `name`, WITHOUT initialising it (tf.findBackend would run a
 * registered factory, i.e. initialise wasm with default settings).
 */
export function initialisedBackend(name: string): tf.KernelBackend | null {
  const registry = (tf.engine() as unknown as { registry: Record<string, tf.KernelBackend> }).registry;
  return registry[name] ?? null;
}

function backendModule(): { PThread?: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] } } | null {
  const backend = initialisedBackend('wasm') as unknown as { wasm?: object } | null;
  return (backend?.wasm as never) ?? null;
}

let exitHookInstalled = false;

/** On `beforeExit`, removes the wasm backend, which terminates its pthreads. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('beforeExit', () => {
    if (initialisedBackend('wasm') == null) return;
    try {
      tf.removeBackend('wasm'); // BackendWasm.dispose terminates the pthreads
    } catch {
      /* already removed */
    }
  });
}

type ProcessEvent = 'uncaughtException' | 'unhandledRejection';

/**
 * Runs `fn` and removes the process listeners it added for uncaught exceptions / rejections. The
 * Emscripten modules install handlers that only re-throw, which makes Node print the module's whole
 * minified source line with every uncaught error.
 */
async function withoutNewProcessListeners<T>(fn: () => Promise<T>): Promise<T> {
  type Listener = (...args: unknown[]) => void;
  const emitter = process as unknown as { listeners(e: string): Listener[]; removeListener(e: string, l: Listener): void };
  const events: ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];
  const before = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
  try {
    return await fn();
  } finally {
    for (const e of events) {
      for (const l of emitter.listeners(e)) {
        if (!before.get(e)?.has(l)) emitter.removeListener(e, l);
      }
    }
  }
}

async function initOnce(threads: number, poolSpin: PoolSpinSetting): Promise<WasmInitResult> {
  const pkg = await importWasmPackage();
  if (pkg.version_wasm !== PINNED_WASM_VERSION) {
    throw new Error(
      `@tensorflow/tfjs-backend-wasm is ${pkg.version_wasm} but backend/wasm_node.ts is pinned to ${PINNED_WASM_VERSION} ` +
        '(it patches tfjs internals to get threads in Node): install 4.22.0 or re-check the workaround',
    );
  }
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const wantThreads = simd && threads > 1;
  let workerPath: string | null = null;
  if (wantThreads) {
    workerPath = writeWorkerScript(wasmPackageDir());
    if (poolSpin !== 'upstream') loadPatchedThreadedBinary(pkg, wasmPackageDir(), poolSpin);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    pkg.setThreadsCount(threads);
    await withoutNewProcessListeners(() => withInitPatches(workerPath as string, 2 * threads, () => setBackendCapturingWarnings('wasm')));
  } else {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    pkg.setThreadsCount(1);
    await withoutNewProcessListeners(() => setBackendCapturingWarnings('wasm'));
  }
  const actual = pkg.getThreadsCount();
  const pthread = backendModule()?.PThread;
  if (wantThreads) {
    if (!pthread) throw new Error('wasm threads: the loaded module has no PThread (tfjs internals changed?)');
    // Workers only run while the main thread is inside a kernel; without this they hold the process open.
    for (const w of [...pthread.runningWorkers, ...pthread.unusedWorkers]) w.unref();
  }
  installExitHook();
  const poolSpinIterations = wantThreads ? (poolSpin === 'upstream' ? UPSTREAM_POOL_SPIN_ITERATIONS : poolSpin) : null;
  return { threads: actual, requestedThreads: threads, simd, threadedBuild: wantThreads, poolSpinIterations };
}

/**
 * Registers and initialises the wasm backend once per process (the Emscripten module cannot be
 * re-initialised) and makes it the active backend. A later call with another thread count throws.
 * `poolSpinIterations` (default env DETR_WASM_POOL_SPIN, else DEFAULT_POOL_SPIN_ITERATIONS) only
 * matters with threads; it is fixed by the first call too.
 */
export async function initWasmBackend(opts: { threads?: number; poolSpinIterations?: PoolSpinSetting } = {}): Promise<WasmInitResult> {
  const threads = Math.max(1, Math.min(Math.floor(opts.threads ?? defaultWasmThreads()), MAX_WASM_THREADS));
  if (opts.threads !== undefined && (!Number.isFinite(opts.threads) || opts.threads < 1)) {
    throw new Error(`initWasmBackend: threads must be a positive integer, got ${opts.threads}`);
  }
  if (initPromise) {
    const done = await initPromise;
    if (opts.threads !== undefined && done.requestedThreads !== threads) {
      throw new WasmConfigError(
        `the wasm backend was already initialised with ${done.threads} thread(s) in this process; it cannot be re-initialised with ${threads} (start a new process)`,
      );
    }
    if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
    return done;
  }
  if (initialisedBackend('wasm') != null) {
    throw new WasmConfigError('the wasm backend was initialised outside initWasmBackend (tf.setBackend("wasm") before selectBackend); threads cannot be configured any more');
  }
  initPromise = initOnce(threads, resolvePoolSpin(opts.poolSpinIterations));
  try {
    initResult = await initPromise;
  } catch (err) {
    initPromise = null;
    throw err;
  }
  return initResult;
}
