/**
 * Measures whether a process's threads actually run in parallel: CPU time / wall time of a workload,
 * CPU time per OS thread (Linux /proc/self/task), and the parallel capacity the scheduler grants this
 * process right now (two plain JS threads spinning: ~2.0 with two free cores, ~1.0 when another busy
 * process holds one core, since Linux's autogroup scheduler shares the CPU by session, not by thread).
 * For tests and bench scripts that check the wasm thread pool on a shared machine.
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Linux's USER_HZ (the unit of utime/stime in /proc/<pid>/task/<tid>/stat); 100 on every mainstream kernel. */
const CLOCK_TICKS_PER_S = 100;

/** CPU milliseconds (user + system) per OS thread id of this process, or null where /proc is missing. */
export function threadCpuMs(): Map<number, number> | null {
  const dir = '/proc/self/task';
  if (!fs.existsSync(dir)) return null;
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync(dir)) {
    let stat: string;
    try {
      stat = fs.readFileSync(`${dir}/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S);
  }
  return out;
}

export interface ParallelismSample {
  wallMs: number;
  /** Process CPU time (all threads) during the window. */
  cpuMs: number;
  /** cpuMs / wallMs: ~1 when one thread works at a time, up to the thread count when they overlap. */
  cpuPerWall: number;
  /** Calls of the workload completed in the window. */
  calls: number;
  /**
   * CPU ms in the window of the main thread (tid = pid) and of every other thread that used any, busiest
   * first (e.g. the wasm pool's worker, V8's helpers); null without /proc.
   */
  threadCpuMs: { main: number; others: number[] } | null;
}

/** Runs `fn` repeatedly for at least `windowMs` and reports the process's CPU use over that window. */
export function sampleParallelism(fn: () => void, windowMs: number): ParallelismSample {
  const threads0 = threadCpuMs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let calls = 0;
  while (performance.now() - t0 < windowMs) {
    fn();
    calls++;
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const threads1 = threadCpuMs();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  let threadCpu: { main: number; others: number[] } | null = null;
  if (threads0 && threads1) {
    threadCpu = { main: 0, others: [] };
    for (const [tid, ms] of threads1) {
      const delta = ms - (threads0.get(tid) ?? 0);
      if (tid === process.pid) threadCpu.main = delta;
      else if (delta > 0) threadCpu.others.push(delta);
    }
    threadCpu.others.sort((x, y) => y - x);
  }
  return { wallMs, cpuMs, cpuPerWall: cpuMs / wallMs, calls, threadCpuMs: threadCpu };
}

const SPIN_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (ms) => {
  const t0 = Date.now();
  let x = 0;
  while (Date.now() - t0 < ms) for (let i = 0; i < 10000; i++) x += Math.sqrt(i);
  parentPort.postMessage(x);
});`;

/**
 * Two (or `threads`) plain JS threads that spin on demand: `measure(ms)` returns the process's CPU time
 * / wall time while they spin, i.e. how many cores the scheduler grants this process now (the first
 * call also pays the threads' start-up: make a short one first). `close()` ends them (they are
 * unref'd, so a forgotten close does not hold the process open).
 */
export class ParallelCapacityProbe {
  private readonly workers: Worker[];

  constructor(threads = 2) {
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(SPIN_SOURCE, { eval: true });
      w.unref();
      return w;
    });
  }

  async measure(ms: number): Promise<number> {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const onError = (err: Error): void => reject(err);
            w.once('error', onError);
            w.once('message', () => {
              w.off('error', onError);
              resolve();
            });
            w.postMessage(ms);
          }),
      ),
    );
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / 1000 / wall;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
