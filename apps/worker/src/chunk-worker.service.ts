/**
 * The BullMQ worker of chunks. Its main thread only takes jobs, renews locks, moves halo records between Redis
 * and shared memory, reports progress and relays cancellation and pauses; the kernel runs on worker threads.
 * A chunk blocked on its neighbours (or paused) frees its slot: the worker may take another chunk, up to
 * DQS_MAX_HELD_CHUNKS; beyond that a blocked chunk goes back to the queue and resumes later from its stream.
 * The worker reports itself (slots, threads, capabilities, chunks) in a registry that the coordinator lists.
 */
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConnectionOptions, DelayedError, Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  CANCEL_CHANNEL,
  CHUNKS_QUEUE,
  CHUNK_QUEUES_KEY,
  ChunkJobData,
  ChunkResult,
  PAUSE_CHANNEL,
  QUEUE_PREFIX,
  ServiceConfig,
  WORKERS_KEY,
  WORKER_CONTROL_CHANNEL,
  redisOptionsFromUrl,
  requirementsOf,
  workerKey,
  workerPausedKey,
} from '@dqs/protocol';
import { ArrayStore, RunRepository, resolveDataDirs } from '@dqs/store';
import { ChunkRunner } from '@dqs/halo';

type Processor = (
  job: Job<ChunkJobData, ChunkResult>,
  token?: string,
  signal?: AbortSignal,
) => Promise<ChunkResult>;

interface ActiveChunk {
  runner: ChunkRunner;
  runId: string;
  jobId: string;
  blocked: boolean;
  blockedSince?: number;
  /** Killed on its own (not with its run): parked when it stops. */
  killed?: boolean;
  done: number;
  total: number;
}

/** How long a killed chunk stays parked before it checks again (BullMQ's delayed scores must stay below 2^53). */
const PARKED_MS = 365 * 24 * 3600 * 1000;

@Injectable()
export class ChunkWorkerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('chunks');
  /** One worker per chunk queue this worker may serve: 'chunks', and each set of capabilities it has. */
  private readonly mains = new Map<string, Worker<ChunkJobData, ChunkResult>>();
  private redis!: Redis;
  private subscriber!: Redis;
  private store!: ArrayStore;
  private runs!: RunRepository;
  private connection!: ConnectionOptions;
  private readonly active = new Map<string, ActiveChunk>();
  /** A one-job worker waiting for a chunk to fill the slot of a blocked one (BullMQ cannot raise a running worker's concurrency). */
  private readonly pending = new Map<string, Worker<ChunkJobData, ChunkResult>>();
  private readonly overflow = new Set<Worker<ChunkJobData, ChunkResult>>();
  /** Queues whose worker stopped fetching because every slot was taken (resumed when one frees). */
  private readonly gated = new Set<string>();
  /** Chunks between taking a slot and being registered as active. */
  private starting = 0;
  private closing = false;
  /** Paused by a person: takes no new chunk, and its running chunks stop at a cell boundary. */
  private paused = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date().toISOString();

  constructor(private readonly config: ServiceConfig) {}

  private get name(): string {
    return this.config.DQS_WORKER_NAME;
  }

  async onModuleInit(): Promise<void> {
    const connection = { ...redisOptionsFromUrl(this.config.REDIS_URL), maxRetriesPerRequest: null };
    this.redis = new Redis(connection);
    this.subscriber = new Redis(connection);
    this.store = new ArrayStore(resolveDataDirs(process.env).data);
    this.runs = new RunRepository(this.redis);
    this.subscriber.on('message', (channel: string, message: string) => {
      const [action, target] = message.split(' ');
      if (channel === CANCEL_CHANNEL) this.cancel(action, target?.split(','));
      else if (channel === PAUSE_CHANNEL) void this.syncRunPause(target, action === 'pause');
      else if (channel === WORKER_CONTROL_CHANNEL && target === this.name)
        void this.setPaused(action === 'pause');
    });
    await this.subscriber.subscribe(CANCEL_CHANNEL, PAUSE_CHANNEL, WORKER_CONTROL_CHANNEL);
    this.connection = connection as ConnectionOptions;
    await this.serveQueues();
    if ((await this.redis.exists(workerPausedKey(this.name))) === 1) await this.setPaused(true);
    await this.report();
    this.heartbeat = setInterval(() => void this.report().catch(() => undefined), 3000);
    this.logger.log(
      `worker ${this.name}: ${this.config.DQS_SLOTS} slot(s), ` +
        `${this.config.DQS_THREADS ?? "the run's -j"} thread(s) per chunk, up to ${this.config.DQS_MAX_HELD_CHUNKS} chunks held` +
        (this.config.DQS_CAPABILITIES ? `, capabilities ${this.config.DQS_CAPABILITIES}` : ''),
    );
  }

  private capabilities(): string[] {
    return this.config.DQS_CAPABILITIES.split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  }

  /** Starts serving every chunk queue whose required capabilities this worker has all of. */
  private async serveQueues(): Promise<void> {
    if (this.closing) return;
    const mine = new Set(this.capabilities());
    const names = new Set([CHUNKS_QUEUE, ...(await this.redis.smembers(CHUNK_QUEUES_KEY))]);
    for (const name of names) {
      if (this.mains.has(name) || !requirementsOf(name).every((t) => mine.has(t))) continue;
      const w = this.newWorker(name, this.config.DQS_SLOTS, (job, token, signal) =>
        this.takeSlot(name, job, token, signal),
      );
      if (this.paused) void w.pause(true).catch(() => undefined);
      this.mains.set(name, w);
      if (name !== CHUNKS_QUEUE) this.logger.log(`worker ${this.name}: serving ${name}`);
    }
  }

  /** The registry entry: what this worker is and does, refreshed every 3 s (it expires when the worker dies). */
  private async report(): Promise<void> {
    await this.serveQueues();
    const durable = (await this.redis.exists(workerPausedKey(this.name))) === 1;
    if (durable !== this.paused) await this.setPaused(durable);
    const chunks = [...this.active.values()].map((a) => ({
      runId: a.runId,
      jobId: a.jobId,
      state: a.runner.isPaused() ? 'paused' : a.blocked ? 'blocked' : 'running',
      done: a.done,
      total: a.total,
    }));
    await this.redis
      .multi()
      .hset(workerKey(this.name), {
        name: this.name,
        slots: this.config.DQS_SLOTS,
        threads: this.config.DQS_THREADS ?? 0,
        capabilities: this.capabilities().join(','),
        paused: this.paused ? 1 : 0,
        startedAt: this.startedAt,
        chunks: JSON.stringify(chunks),
      })
      .pexpire(workerKey(this.name), 10000)
      .zadd(WORKERS_KEY, Date.now(), this.name)
      .exec();
    this.rebalance(); // a safety net: gated queues resume even if a wake-up was missed
  }

  /** A whole run is cancelled; chunks killed one by one stop at a cell boundary and are parked (see park). */
  private cancel(runId: string, jobIds?: string[]): void {
    for (const a of this.active.values()) {
      if (a.runId !== runId) continue;
      if (!jobIds) a.runner.stop('cancelled');
      else if (jobIds.includes(a.jobId)) {
        a.killed = true;
        a.runner.stop('yielded');
      }
    }
  }

  /**
   * A chunk killed on its own (dqs kill RUN --jobs) waits as a delayed job, for a year at most, so that its run
   * does not end and dqs retry can promote it; it then resumes from its stream with the same result.
   */
  private async park(
    job: Job<ChunkJobData, ChunkResult>,
    token: string | undefined,
    done: number,
  ): Promise<never> {
    const { runId, jobId } = job.data;
    await this.runs.setChunk(runId, jobId, { state: 'cancelled', done, worker: this.name });
    await this.runs.log(
      runId,
      jobId,
      `killed after ${done} cells: parked until dqs retry ${runId} --jobs ${jobId}`,
    );
    await job.moveToDelayed(Date.now() + PARKED_MS, token);
    // retried while it was parking: back to the queue at once
    if (!(await this.runs.isChunkKilled(runId, jobId))) await job.promote().catch(() => undefined);
    throw new DelayedError();
  }

  /** A chunk runs unless its run or this worker is paused. */
  private async shouldPause(a: ActiveChunk): Promise<boolean> {
    return this.paused || (await this.runs.isPaused(a.runId));
  }

  private async syncRunPause(runId: string, _pause: boolean): Promise<void> {
    for (const a of this.active.values()) if (a.runId === runId) await this.applyPause(a);
    this.rebalance();
  }

  private async applyPause(a: ActiveChunk): Promise<void> {
    const pause = await this.shouldPause(a);
    if (pause && !a.runner.isPaused()) a.runner.pause();
    else if (!pause && a.runner.isPaused()) a.runner.resume();
  }

  private async setPaused(paused: boolean): Promise<void> {
    if (this.paused === paused) return;
    this.paused = paused;
    // running chunks first: BullMQ's pause can take seconds to return (it waits for its blocking fetch)
    for (const a of this.active.values()) await this.applyPause(a);
    if (paused) {
      for (const w of this.mains.values()) void w.pause(true).catch(() => undefined);
      for (const w of this.overflow) void w.close();
      this.overflow.clear();
      this.pending.clear();
    } else {
      this.gated.clear();
      for (const w of this.mains.values()) w.resume();
    }
    this.logger.log(`worker ${this.name} ${paused ? 'paused' : 'resumed'}`);
    this.rebalance();
    await this.report().catch(() => undefined);
  }

  private newWorker(
    queue: string,
    concurrency: number,
    processor: Processor,
  ): Worker<ChunkJobData, ChunkResult> {
    const w = new Worker<ChunkJobData, ChunkResult>(queue, processor, {
      connection: this.connection,
      prefix: QUEUE_PREFIX,
      concurrency,
      lockDuration: this.config.DQS_LOCK_DURATION_MS,
      stalledInterval: this.config.DQS_STALLED_INTERVAL_MS,
      maxStalledCount: 10,
      name: this.name,
    });
    w.on('error', (e) => this.logger.error(`worker error: ${e.message}`));
    return w;
  }

  /**
   * Keeps as many chunks computing as there are slots: when chunks are blocked on neighbours or paused (they use
   * no CPU), a one-job worker takes another chunk, up to DQS_MAX_HELD_CHUNKS held at once.
   */
  private rebalance(): void {
    if (this.closing || this.mains.size === 0) return;
    if (this.gated.size && !this.paused && this.computing() < this.config.DQS_SLOTS) {
      for (const q of this.gated) this.mains.get(q)?.resume();
      this.gated.clear();
    }
    let idle = 0;
    for (const a of this.active.values()) if (a.blocked || a.runner.isPaused()) idle++;
    const computing = this.active.size - idle;
    // overflow only replaces held chunks that are blocked or paused; idle slots are the main workers' to fill
    const want =
      !this.paused &&
      idle > 0 &&
      computing < this.config.DQS_SLOTS &&
      this.active.size < this.config.DQS_MAX_HELD_CHUNKS;
    if (want) {
      // one waiting one-job worker per queue served, whichever has work first
      for (const queue of this.mains.keys()) {
        if (this.pending.has(queue)) continue;
        const w: Worker<ChunkJobData, ChunkResult> = this.newWorker(queue, 1, async (job, token, signal) => {
          if (this.pending.get(queue) === w) this.pending.delete(queue);
          try {
            return await this.takeSlot(queue, job, token, signal);
          } finally {
            setImmediate(() => {
              this.overflow.delete(w);
              void w.close();
            });
          }
        });
        this.pending.set(queue, w);
        this.overflow.add(w);
      }
    } else {
      for (const w of this.pending.values()) {
        this.overflow.delete(w);
        void w.close();
      }
      this.pending.clear();
    }
  }

  /** Chunks computing now (not blocked, not paused), and those about to start. */
  private computing(): number {
    let n = this.starting;
    for (const a of this.active.values()) if (!a.blocked && !a.runner.isPaused()) n++;
    return n;
  }

  /**
   * One pool of DQS_SLOTS for every queue this worker serves: a chunk fetched while the pool is full goes back
   * to its queue, and that queue's worker stops fetching until a slot frees (see rebalance).
   */
  private async takeSlot(
    queue: string,
    job: Job<ChunkJobData, ChunkResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<ChunkResult> {
    if (this.computing() >= this.config.DQS_SLOTS) {
      this.gated.add(queue);
      void this.mains.get(queue)?.pause(true).catch(() => undefined);
      await job.moveToDelayed(Date.now() + 250, token);
      throw new DelayedError();
    }
    this.starting++;
    let reserved = true;
    const release = () => {
      if (reserved) this.starting--;
      reserved = false;
    };
    try {
      return await this.process(job, token, signal, release);
    } finally {
      release();
    }
  }

  private async process(
    job: Job<ChunkJobData, ChunkResult>,
    token?: string,
    signal?: AbortSignal,
    started: () => void = () => undefined,
  ): Promise<ChunkResult> {
    const data = job.data;
    const key = job.id!;
    if (await this.runs.isCancelled(data.runId))
      throw new UnrecoverableError(`run ${data.runId} was cancelled`);
    if (await this.runs.isChunkKilled(data.runId, data.jobId)) return this.park(job, token, 0);
    if (this.paused || this.closing) {
      // taken while this worker was being paused or stopped: back to the queue for another worker
      await job.moveToDelayed(Date.now() + 200, token);
      throw new DelayedError();
    }
    if (await this.runs.isPaused(data.runId)) {
      // a paused run's chunks wait in the queue, not in a slot
      await this.runs.setChunk(data.runId, data.jobId, { state: 'paused' });
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }
    await this.runs.setState(data.runId, 'running');
    const worker = this.name;
    const log = (line: string) => void this.runs.log(data.runId, data.jobId, line).catch(() => undefined);
    log(
      `started on ${worker} (attempt ${job.attemptsMade + 1}), seed ${data.params.seed + data.position}, ${data.neighbours.length} neighbour(s)`,
    );
    await this.runs.setChunk(data.runId, data.jobId, { state: 'running', worker });
    const runner = new ChunkRunner(data, this.redis, (sha) => this.store.read(sha));
    const entry: ActiveChunk = {
      runner,
      runId: data.runId,
      jobId: data.jobId,
      blocked: false,
      done: 0,
      total: 0,
    };
    this.active.set(key, entry);
    started();
    await this.applyPause(entry);
    this.rebalance();
    const onAbort = () => runner.stop('cancelled');
    signal?.addEventListener('abort', onAbort);
    // pub/sub can lose messages: the durable flags are checked every 2 s too
    const poll = setInterval(() => {
      void this.runs.isCancelled(data.runId).then(
        (c) => c && runner.stop('cancelled'),
        () => undefined,
      );
      void this.runs.isChunkKilled(data.runId, data.jobId).then(
        (k) => k && this.cancel(data.runId, [data.jobId]),
        () => undefined,
      );
      void this.applyPause(entry).then(
        () => this.rebalance(),
        () => undefined,
      );
    }, 2000);
    let lastReport = 0;
    try {
      const outcome = await runner.execute({
        threads: this.config.DQS_THREADS,
        onBlocked: (b) => {
          log(b ? `blocked on neighbours after ${entry.done} cells` : 'going on');
          entry.blocked = b;
          entry.blockedSince = b ? Date.now() : undefined;
          this.rebalance();
          void this.runs
            .setChunk(data.runId, data.jobId, { state: b ? 'blocked' : 'running', worker })
            .catch(() => undefined);
        },
        onProgress: ({ done, total, blocked }) => {
          entry.done = done;
          entry.total = total;
          const now = Date.now();
          if (
            blocked &&
            entry.blockedSince !== undefined &&
            now - entry.blockedSince > this.config.DQS_YIELD_AFTER_MS &&
            this.active.size >= this.config.DQS_MAX_HELD_CHUNKS
          ) {
            runner.stop('yielded');
          }
          if (now - lastReport < 1000 && done < total) return;
          lastReport = now;
          void job.updateProgress({ done, total, blocked }).catch(() => undefined);
          const state = runner.isPaused() ? 'paused' : entry.blocked ? 'blocked' : 'running';
          void this.runs
            .setChunk(data.runId, data.jobId, { state, done, total, worker })
            .catch(() => undefined);
        },
      });
      if (outcome.kind === 'stopped') {
        if (outcome.reason === 'yielded') {
          if (entry.killed || (await this.runs.isChunkKilled(data.runId, data.jobId)))
            return await this.park(job, token, outcome.done);
          log(
            `${this.closing ? 'worker stopping' : 'blocked'}: back to the queue after ${outcome.done} cells`,
          );
          this.logger.log(
            `chunk ${data.jobId} of run ${data.runId}: ${this.closing ? 'worker stopping' : 'blocked'}, back to the queue after ${outcome.done} cells`,
          );
          await this.runs.setChunk(data.runId, data.jobId, { state: 'waiting', done: outcome.done, worker });
          await job.moveToDelayed(Date.now() + 500, token);
          throw new DelayedError();
        }
        throw new UnrecoverableError(`run ${data.runId} was cancelled`);
      }
      await this.runs.setChunk(data.runId, data.jobId, {
        state: 'simulated',
        done: outcome.cells,
        total: outcome.cells,
        worker,
      });
      await this.runs.log(
        data.runId,
        data.jobId,
        `simulated ${outcome.cells} cells (${outcome.replayed} replayed from its stream); sent ${outcome.publishedBatches} batches ` +
          `(${(outcome.publishedBytes / 1024).toFixed(0)} KiB), received ${outcome.receivedBatches}`,
      );
      this.logger.log(
        `chunk ${data.jobId} of run ${data.runId}: ${outcome.cells} cells (${outcome.replayed} replayed), ` +
          `sent ${outcome.publishedBatches} batches / ${(outcome.publishedBytes / 1024).toFixed(0)} KiB, received ${outcome.receivedBatches} batches`,
      );
      return { streamKey: outcome.streamKey, cells: outcome.cells };
    } catch (e) {
      if (!(e instanceof DelayedError)) {
        const message = e instanceof Error ? e.message : String(e);
        const cancelled = e instanceof UnrecoverableError && message.includes('cancelled');
        log(cancelled ? 'stopped: the run was cancelled' : `failed: ${message}`);
        await this.runs
          .setChunk(data.runId, data.jobId, {
            state: cancelled ? 'cancelled' : 'failed',
            error: cancelled ? undefined : message,
            worker,
          })
          .catch(() => undefined);
      }
      throw e;
    } finally {
      clearInterval(poll);
      signal?.removeEventListener('abort', onAbort);
      this.active.delete(key);
      this.rebalance();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // drain: running chunks stop at a cell boundary and go back to the queue; they resume elsewhere from their streams
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const a of this.active.values()) a.runner.stop('yielded');
    await Promise.all([...this.mains.values(), ...this.overflow].map((w) => w.close()));
    await this.redis
      ?.multi()
      .del(workerKey(this.name))
      .zrem(WORKERS_KEY, this.name)
      .exec()
      .catch(() => undefined);
    this.subscriber?.disconnect();
    this.redis?.disconnect();
  }
}
