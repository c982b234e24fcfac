/**
 * Runs a plan's path on kernel threads (worker_threads over shared memory). The calling thread stays free:
 * it only reports progress, hands finished positions to a callback, and relays pause, resume and cancel.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { QsCancelledError } from './errors';
import { CONTROL, MAX_THREADS, SharedPlan } from './plan';
import { PixelSampler } from './sampler';
import { simulatePositions } from './slot-loop';
import type { ThreadData } from './thread-main';
import { loadKernelModule } from './wasm-kernel';

let kernelModule: WebAssembly.Module | undefined;

export interface RunOptions {
  threads: number;
  /** First path position to run (earlier ones must be finished or filled). Default 0. */
  startPosition?: number;
  /** Called about every progressIntervalMs with finished positions / total positions. */
  onProgress?: (done: number, total: number) => void;
  /** Called with batches of finished path positions (in completion order), on the calling thread. */
  onSimulated?: (positions: Int32Array) => void;
  progressIntervalMs?: number;
  signal?: AbortSignal;
  /**
   * Let the calling thread be one of the kernel slots, in time slices between its events (one thread less,
   * about 15 MB less). Only where no position ever waits on the event loop, e.g. for halo cells from
   * elsewhere: a local run, where every earlier cell is in the path.
   */
  useCallingThread?: boolean;
}

export interface RunSummary {
  /** Positions finished by this run. */
  simulated: number;
  seconds: number;
  threads: number;
}

/**
 * A kernel thread makes little garbage, all short-lived: a small young generation keeps each thread's memory
 * a few MB instead of growing to V8's default semi-spaces (the thread count multiplies it).
 */
const THREAD_LIMITS = { maxYoungGenerationSizeMb: 2 };
/** Time slice of the calling thread's kernel slot: short enough for progress and signals to stay lively. */
const SLICE_MS = 40;

/** Starts a kernel thread on thread-main: compiled JavaScript, or the TypeScript source under ts-jest/tsx. */
function startThread(data: ThreadData): Worker {
  const js = join(__dirname, 'thread-main.js');
  if (existsSync(js)) return new Worker(js, { workerData: data, resourceLimits: THREAD_LIMITS });
  const ts = join(__dirname, 'thread-main.ts');
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(ts)});`, {
    eval: true,
    workerData: data,
  });
}

export class SimulationRun {
  readonly done: Promise<RunSummary>;
  private logCursor = 0;
  private readonly total: number;

  constructor(
    private readonly plan: SharedPlan,
    private readonly options: RunOptions,
  ) {
    this.total = plan.path.length;
    this.done = this.start();
  }

  pause(): void {
    Atomics.store(this.plan.control, CONTROL.PAUSE, 1);
  }

  resume(): void {
    Atomics.store(this.plan.control, CONTROL.PAUSE, 0);
    Atomics.notify(this.plan.control, CONTROL.PAUSE);
  }

  cancel(): void {
    Atomics.store(this.plan.control, CONTROL.CANCEL, 1);
    Atomics.notify(this.plan.control, CONTROL.PAUSE);
  }

  /** Positions finished so far (including any finished before this run started). */
  finishedPositions(): number {
    let n = 0;
    for (const d of this.plan.positionDone) n += d;
    return n;
  }

  /** Domain cells the threads are waiting for right now (distributed mode: missing halo values). */
  waitingFor(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.options.threads; s++) {
      const q = Atomics.load(this.plan.control, CONTROL.WAITING + s);
      if (q >= 0) out.push(q);
    }
    return out;
  }

  private drainLog(): void {
    const { log, control } = this.plan;
    const written = Atomics.load(control, CONTROL.LOG);
    let end = this.logCursor;
    while (end < written && Atomics.load(log, end) !== 0) end++;
    if (end === this.logCursor) return;
    const batch = new Int32Array(end - this.logCursor);
    for (let a = 0; a < batch.length; a++) batch[a] = log[this.logCursor + a] - 1;
    this.logCursor = end;
    this.options.onSimulated?.(batch);
  }

  private report(): void {
    this.drainLog();
    this.options.onProgress?.(this.finishedPositions(), this.total);
  }

  /** A kernel slot on the calling thread: simulates in slices, yielding to the event loop between them. */
  private async runSlices(sampler: PixelSampler): Promise<void> {
    const yieldToEvents = () => new Promise((r) => setImmediate(r));
    await yieldToEvents(); // the run's caller gets it first (to pause it, say)
    for (;;) {
      const state = simulatePositions(this.plan, sampler, performance.now() + SLICE_MS);
      if (state === 'stop') return;
      if (state === 'paused') await new Promise((r) => setTimeout(r, 50));
      else await yieldToEvents();
    }
  }

  private async start(): Promise<RunSummary> {
    const { plan, options } = this;
    const threads = Math.min(MAX_THREADS, Math.max(1, Math.floor(options.threads)));
    const control = plan.control;
    const start = options.startPosition ?? 0;
    Atomics.store(control, CONTROL.NEXT, start);
    Atomics.store(control, CONTROL.DONE, 0);
    Atomics.store(control, CONTROL.CANCEL, 0);
    // no thread waits until it says so (0 would read as "waiting for cell 0" before a thread has started)
    for (let s = 0; s < threads; s++) Atomics.store(control, CONTROL.WAITING + s, -1);
    this.logCursor = Atomics.load(control, CONTROL.LOG);
    const onAbort = () => this.cancel();
    if (options.signal?.aborted) this.cancel();
    options.signal?.addEventListener('abort', onAbort);
    kernelModule ??= loadKernelModule();
    const module = kernelModule;
    const t0 = performance.now();
    const timer = setInterval(() => this.report(), options.progressIntervalMs ?? 200);
    let failure: string | undefined;
    try {
      const inline = options.useCallingThread ? 1 : 0;
      const onCallingThread = async (slot: number) => {
        try {
          await this.runSlices(new PixelSampler(plan, slot, module));
        } catch (e) {
          failure ??= e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
          this.cancel();
        }
      };
      await Promise.all(
        Array.from({ length: threads }, (_, slot) => {
          if (slot < inline) return onCallingThread(slot);
          const worker = startThread({ plan, slot, kernelModule: module });
          return new Promise<void>((resolve) => {
            let settled = false;
            const settle = (error?: string) => {
              if (settled) return;
              settled = true;
              if (error && !failure) {
                failure = error;
                this.cancel();
              }
              void worker.terminate();
              resolve();
            };
            worker.on('message', (m: { ok: boolean; error?: string }) => settle(m.ok ? undefined : m.error));
            worker.on('error', (e) => settle(e.stack ?? e.message));
            worker.on('exit', (code) =>
              settle(code === 0 ? undefined : `kernel thread exited with code ${code}`),
            );
          });
        }),
      );
    } finally {
      clearInterval(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    const seconds = (performance.now() - t0) / 1000;
    this.report();
    if (failure) throw new Error(`QS kernel thread failed: ${failure}`);
    const simulated = Atomics.load(control, CONTROL.DONE);
    if (Atomics.load(control, CONTROL.CANCEL) !== 0 && this.finishedPositions() < this.total) {
      throw new QsCancelledError(this.finishedPositions());
    }
    return { simulated, seconds, threads };
  }
}
