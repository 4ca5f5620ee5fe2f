/**
 * Progress for people: a bar with iteration, ETA, current losses and lr on a terminal; plain log lines
 * every `log_period` iterations when stdout is not a TTY (CI, nx without a terminal, files).
 */
import cliProgress from 'cli-progress';
import type { Hook, StepResult, Trainer } from '../trainer';

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** The few losses worth a glance: the total and the final layer's (un-suffixed) terms. */
export function headlineLosses(losses: Record<string, number>): string {
  return Object.entries(losses)
    .filter(([k]) => !/_(\d+|enc|dn|dn_\d+|one2many(_\d+)?)$/.test(k))
    .map(([k, v]) => `${k.replace(/^loss_/, '')} ${v.toFixed(3)}`)
    .join(' ');
}

export class ProgressHook implements Hook {
  private bar: cliProgress.SingleBar | null = null;
  private readonly tty: boolean;
  private times: number[] = [];
  private lastLine = 0;

  constructor(private readonly opts: { log_period?: number; stream?: NodeJS.WriteStream; log?: (line: string) => void } = {}) {
    const stream = opts.stream ?? process.stdout;
    this.tty = !!stream.isTTY && !process.env.CI;
  }

  private log(line: string): void {
    if (this.opts.log) this.opts.log(line);
    else if (this.bar) this.bar.stop(), console.log(line);
    else console.log(line);
  }

  beforeTrain(t: Trainer): void {
    if (this.tty) {
      this.bar = new cliProgress.SingleBar(
        {
          format: 'train |{bar}| {value}/{total} it | ETA {eta_h} | {sit} s/it | loss {loss} | {parts} | lr {lr}',
          hideCursor: true,
          barsize: 24,
          etaBuffer: 50,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(t.maxIter, t.iter, { eta_h: '?', sit: '?', loss: '?', parts: '', lr: '?' });
    } else {
      this.log(`[train] starting at iteration ${t.iter} of ${t.maxIter}`);
    }
  }

  afterStep(t: Trainer, r: StepResult): void {
    this.times.push(r.stepTime);
    if (this.times.length > 50) this.times.shift();
    const perIt = this.times.reduce((a, b) => a + b, 0) / this.times.length;
    const eta = perIt * (t.maxIter - t.iter);
    if (this.bar) {
      this.bar.update(t.iter, {
        eta_h: formatSeconds(eta),
        sit: perIt.toFixed(2),
        loss: r.totalLoss.toFixed(3),
        parts: headlineLosses(r.losses),
        lr: r.lr.toExponential(2),
      });
      return;
    }
    const period = this.opts.log_period ?? 20;
    if (t.iter % period === 0 || t.iter === t.maxIter || t.iter - this.lastLine >= period) {
      this.lastLine = t.iter;
      this.log(
        `[train] iter ${t.iter}/${t.maxIter} | eta ${formatSeconds(eta)} | ${perIt.toFixed(2)} s/it | loss ${r.totalLoss.toFixed(4)} | ${headlineLosses(r.losses)} | lr ${r.lr.toExponential(2)}`,
      );
    }
  }

  afterTrain(t: Trainer, error?: Error): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
    if (!error) this.log(`[train] finished ${t.maxIter} iterations`);
  }
}
