/**
 * Runs one chunk of a distributed run: its plan (tile + halo), its own stream replayed first (so a retried or
 * resumed chunk goes on where it stopped), neighbour streams followed into the halo, the engine on kernel
 * threads, and every simulated cell appended to its own stream. The calling thread only does Redis I/O.
 */
import type { Redis } from 'ioredis';
import { CellRecords, ChunkJobData } from '@dqs/protocol';
import { QsCancelledError, SimulationRun, resolveThreadCount } from '@dqs/qs';
import { ArrayLoader, buildChunkPlan } from './chunk-plan';
import { StreamFollower, StreamWriter, readWholeStream, streamOf } from './exchange';

export interface ChunkProgress {
  done: number;
  total: number;
  /** All kernel threads are waiting for neighbour cells. */
  blocked: boolean;
}

export interface ChunkRunOptions {
  /** Kernel threads; default from the run's -j, resolved against this machine's cores. */
  threads?: number;
  onProgress?: (p: ChunkProgress) => void;
  /** Called when the chunk becomes blocked on neighbours, or stops being blocked. */
  onBlocked?: (blocked: boolean) => void;
  progressIntervalMs?: number;
  /** A blocked chunk is reported blocked once no cell was finished for this long. */
  blockedAfterMs?: number;
}

export type ChunkOutcome =
  | {
      kind: 'completed';
      cells: number;
      replayed: number;
      streamKey: string;
      publishedBatches: number;
      publishedBytes: number;
      receivedBatches: number;
    }
  | { kind: 'stopped'; reason: 'cancelled' | 'yielded'; done: number };

export class ChunkRunner {
  private run: SimulationRun | undefined;
  private stopReason: 'cancelled' | 'yielded' | undefined;
  private positionDone: Uint8Array | undefined;
  private firstUnfinished = 0;

  constructor(
    private readonly job: ChunkJobData,
    private readonly redis: Redis,
    private readonly load: ArrayLoader,
  ) {}

  private paused = false;

  /** Pauses at the next cell boundary (the threads then use no CPU); the bytes do not change. */
  pause(): void {
    this.paused = true;
    this.run?.pause();
  }

  resume(): void {
    this.paused = false;
    this.run?.resume();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /**
   * The chunk's first unfinished path position (every earlier one is simulated): its frontier in the run's
   * order is g = position * N + r. 0 until its plan is built.
   */
  frontier(): number {
    const done = this.positionDone;
    if (!done) return 0;
    while (this.firstUnfinished < done.length && done[this.firstUnfinished] !== 0) this.firstUnfinished++;
    return this.firstUnfinished;
  }

  /** Stops at the next cell boundary; run() then resolves with kind 'stopped'. */
  stop(reason: 'cancelled' | 'yielded'): void {
    this.stopReason ??= reason;
    this.run?.cancel();
  }

  async execute(options: ChunkRunOptions = {}): Promise<ChunkOutcome> {
    const job = this.job;
    const { plan, haloCells } = buildChunkPlan(job, this.load);
    const shared = plan.shared;
    const V = shared.vars;
    const N = job.jobCount;
    const r = job.position;
    const own = streamOf(job.runId, job.diId);
    const total = shared.path.length;
    this.positionDone = shared.positionDone;

    // 1. our own stream: cells finished by an earlier attempt
    const applyOwn = (rec: CellRecords) => {
      for (let a = 0; a < rec.g.length; a++) {
        const i = (rec.g[a] - r) / N;
        if (!Number.isInteger(i) || i < 0 || i >= total) continue;
        const dc = shared.path[i];
        for (let v = 0; v < V; v++) shared.values[dc * V + v] = rec.values[a * V + v];
        shared.index[dc] = rec.index[a];
        shared.positionDone[i] = 1;
        Atomics.store(shared.ready, dc, 1);
      }
    };
    const replayed = await readWholeStream(this.redis, own.key, applyOwn);

    // 2. neighbours' streams into the halo (write only where still empty)
    const applyHalo = (rec: CellRecords) => {
      for (let a = 0; a < rec.g.length; a++) {
        const dc = haloCells.get(rec.g[a]);
        if (dc === undefined) continue;
        for (let v = 0; v < V; v++) {
          const at = dc * V + v;
          if (shared.values[at] !== shared.values[at]) shared.values[at] = rec.values[a * V + v];
        }
        shared.index[dc] = rec.index[a];
        Atomics.store(shared.ready, dc, 1);
        Atomics.notify(shared.ready, dc);
      }
    };
    const subscriber = this.redis.duplicate();
    const follower = new StreamFollower(
      this.redis,
      subscriber,
      job.neighbours.map((nb) => streamOf(job.runId, nb.diId)),
      applyHalo,
    );
    const writer = new StreamWriter(this.redis, own);
    let lastDone = -1;
    let lastChange = Date.now();
    let blocked = false;
    const blockedAfter = options.blockedAfterMs ?? 150;
    const threads = options.threads ?? resolveThreadCount(job.params.j);
    try {
      await follower.start();
      if (this.stopReason) return { kind: 'stopped', reason: this.stopReason, done: replayed };
      // 3. simulate, publishing finished cells in batches
      this.run = new SimulationRun(shared, {
        threads,
        progressIntervalMs: options.progressIntervalMs ?? 5,
        onSimulated: (positions) => {
          const n = positions.length;
          const rec: CellRecords = {
            vars: V,
            g: new Float64Array(n),
            index: new Uint32Array(n),
            values: new Float32Array(n * V),
          };
          for (let a = 0; a < n; a++) {
            const i = positions[a];
            const dc = shared.path[i];
            rec.g[a] = i * N + r;
            rec.index[a] = shared.index[dc];
            for (let v = 0; v < V; v++) rec.values[a * V + v] = shared.values[dc * V + v];
          }
          writer.append(rec);
        },
        onProgress: (done) => {
          const now = Date.now();
          if (done !== lastDone) {
            lastDone = done;
            lastChange = now;
          }
          const waiting = this.run?.waitingFor().length ?? 0;
          const isBlocked = waiting > 0 && now - lastChange > blockedAfter;
          if (isBlocked !== blocked) {
            blocked = isBlocked;
            options.onBlocked?.(blocked);
          }
          options.onProgress?.({ done, total, blocked });
          const err = follower.error();
          if (err) this.run?.cancel();
        },
      });
      if (this.paused) this.run.pause();
      if (this.stopReason) this.run.cancel();
      try {
        await this.run.done;
      } catch (e) {
        if (!(e instanceof QsCancelledError)) throw e;
        const readError = follower.error();
        if (readError) throw new Error(`reading neighbour halos failed: ${readError.message}`);
        await writer.flush();
        return {
          kind: 'stopped',
          reason: this.stopReason ?? 'cancelled',
          done: this.run.finishedPositions(),
        };
      }
      await writer.flush();
      return {
        kind: 'completed',
        cells: total,
        replayed,
        streamKey: own.key,
        publishedBatches: writer.batches,
        publishedBytes: writer.bytes,
        receivedBatches: follower.batches,
      };
    } finally {
      if (blocked) options.onBlocked?.(false);
      await follower.stop();
      subscriber.disconnect();
    }
  }
}
