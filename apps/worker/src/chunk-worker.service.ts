/**
 * The BullMQ worker of chunks. Its main thread only takes jobs, renews locks, moves halo records between Redis
 * and shared memory, reports progress and relays cancellation and pauses; the kernel runs on worker threads.
 * Which chunks it takes, holds and hands back is decided by ChunkScheduler (see its rules); this service does the
 * BullMQ and Redis side. A chunk handed back resumes later, here or elsewhere, from its stream.
 * The worker reports itself (slots, threads, capabilities, chunks) in a registry that the coordinator lists.
 */
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  ConnectionOptions,
  DelayedError,
  Job,
  Queue,
  UnrecoverableError,
  WaitingError,
  Worker,
} from 'bullmq';
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
import { ChunkScheduler, queuePreference, requeuePriority } from './chunk-scheduler';

type Processor = (
  job: Job<ChunkJobData, ChunkResult>,
  token?: string,
  signal?: AbortSignal,
) => Promise<ChunkResult>;

interface ActiveChunk {
  /** Its BullMQ job id. */
  key: string;
  runner: ChunkRunner;
  data: ChunkJobData;
  blocked: boolean;
  /** Killed on its own (not with its run): parked when it stops. */
  killed?: boolean;
  /** Its run's record is gone (Redis lost it): dropped, nothing more written. */
  gone?: boolean;
  /** Why it goes back to the queue, when it does (for its log). */
  handBack?: string;
  done: number;
  total: number;
}

/** The queue priority of a held chunk's progress (rule 3 of ChunkScheduler). */
function priorityOf(a: ActiveChunk): number {
  const d = a.data;
  const cells = d.tileShape.reduce((x, y) => x * y, 1);
  return requeuePriority(a.runner.frontier(), d.position, d.jobCount, cells);
}

/** How long a killed chunk stays parked before it checks again (BullMQ's delayed scores must stay below 2^53). */
const PARKED_MS = 365 * 24 * 3600 * 1000;

@Injectable()
export class ChunkWorkerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('chunks');
  /** One worker per chunk queue this worker may serve: 'chunks', and each set of capabilities it has. */
  private readonly mains = new Map<string, Worker<ChunkJobData, ChunkResult>>();
  /** The same queues, to look at what waits in them (rules 4 and 5 of the scheduler). */
  private readonly queues = new Map<string, Queue<ChunkJobData, ChunkResult>>();
  private redis!: Redis;
  private subscriber!: Redis;
  private store!: ArrayStore;
  private runs!: RunRepository;
  private connection!: ConnectionOptions;
  private readonly active = new Map<string, ActiveChunk>();
  private readonly scheduler: ChunkScheduler;
  /** A one-job worker waiting for a chunk to fill the slot of a blocked one (BullMQ cannot raise a running worker's concurrency). */
  private readonly pending = new Map<string, Worker<ChunkJobData, ChunkResult>>();
  private readonly overflow = new Set<Worker<ChunkJobData, ChunkResult>>();
  /** A swap (rule 4) being looked into: one at a time. */
  private swapping = false;
  private closing = false;
  /** Paused by a person: takes no new chunk, and hands its chunks back to the queue. */
  private paused = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date().toISOString();

  constructor(private readonly config: ServiceConfig) {
    const mine = this.capabilities();
    this.scheduler = new ChunkScheduler(
      {
        slots: config.DQS_SLOTS,
        maxHeld: config.DQS_MAX_HELD_CHUNKS,
        yieldAfterMs: config.DQS_YIELD_AFTER_MS,
      },
      (queue) => queuePreference(requirementsOf(queue), mine),
    );
  }

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
    // Redis came back after losing its connection (a restart): what it kept may be older than what the chunks
    // hold in memory, so every held chunk goes back to the queue and resumes from what its stream really has
    let initial = this.redis.status !== 'ready';
    this.redis.on('ready', () => {
      if (initial) initial = false;
      else this.handBackAll('Redis reconnected');
    });
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
      this.queues.set(name, new Queue(name, { connection: this.redis, prefix: QUEUE_PREFIX }));
      if (name !== CHUNKS_QUEUE) this.logger.log(`worker ${this.name}: serving ${name}`);
    }
  }

  /** The registry entry: what this worker is and does, refreshed every 3 s (it expires when the worker dies). */
  private async report(): Promise<void> {
    await this.serveQueues();
    const durable = (await this.redis.exists(workerPausedKey(this.name))) === 1;
    if (durable !== this.paused) await this.setPaused(durable);
    const chunks = [...this.active.values()].map((a) => ({
      runId: a.data.runId,
      jobId: a.data.jobId,
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
    // queues deferred to preferred ones look again; gated queues resume even if a wake-up was missed
    for (const q of this.scheduler.undefer()) this.mains.get(q)?.resume();
    this.rebalance();
  }

  /** A whole run is cancelled; chunks killed one by one stop at a cell boundary and are parked (see park). */
  private cancel(runId: string, jobIds?: string[]): void {
    for (const a of this.active.values()) {
      if (a.data.runId !== runId) continue;
      if (!jobIds) a.runner.stop('cancelled');
      else if (jobIds.includes(a.data.jobId)) {
        a.killed = true;
        a.runner.stop('yielded');
      }
    }
  }

  /** Every held chunk stops at a cell boundary and goes back to the queue (worker paused, stopping, Redis restarted). */
  private handBackAll(why: string): void {
    if (this.active.size === 0) return;
    this.logger.log(`${why}: ${this.active.size} chunk(s) back to the queue`);
    for (const a of this.active.values()) {
      a.handBack ??= why;
      a.runner.stop('yielded');
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

  /**
   * Back to the queue, after `delayMs`, with a new priority if given (rule 3). If the job's lock was lost (Redis
   * restarted), BullMQ's stall check returns it to the queue instead.
   */
  private async requeue(
    job: Job<ChunkJobData, ChunkResult>,
    token: string | undefined,
    opts: { priority?: number; delayMs?: number } = {},
  ): Promise<never> {
    try {
      if (opts.priority !== undefined && opts.priority !== job.priority)
        await job.changePriority({ priority: opts.priority });
      await job.moveToDelayed(Date.now() + (opts.delayMs ?? 0), token);
    } catch (e) {
      this.logger.warn(
        `chunk ${job.id}: cannot hand it back (${(e as Error).message}); it returns to the queue once its lock expires`,
      );
    }
    throw new DelayedError();
  }

  /** A chunk runs unless its run or this worker is paused. */
  private async shouldPause(a: ActiveChunk): Promise<boolean> {
    return this.paused || (await this.runs.isPaused(a.data.runId));
  }

  private async syncRunPause(runId: string, _pause: boolean): Promise<void> {
    for (const a of this.active.values()) if (a.data.runId === runId) await this.applyPause(a);
    this.rebalance();
  }

  private async applyPause(a: ActiveChunk): Promise<void> {
    const pause = await this.shouldPause(a);
    if (pause && !a.runner.isPaused()) a.runner.pause();
    else if (!pause && a.runner.isPaused()) a.runner.resume();
    this.scheduler.setState(a.key, a.runner.isPaused() ? 'paused' : a.blocked ? 'blocked' : 'computing');
  }

  /** Paused by a person: takes no new chunk and hands its chunks back, so that their runs go on elsewhere. */
  private async setPaused(paused: boolean): Promise<void> {
    if (this.paused === paused) return;
    this.paused = paused;
    this.scheduler.paused = paused;
    if (paused) {
      this.handBackAll(`worker ${this.name} paused`);
      for (const w of this.mains.values()) void w.pause(true).catch(() => undefined);
      for (const w of this.overflow) void w.close();
      this.overflow.clear();
      this.pending.clear();
    } else {
      this.scheduler.ungate();
      this.scheduler.undefer();
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
   * Applies the scheduler's decisions: gated queues fetch again when a slot frees (rule 1); a one-job worker per
   * queue waits for a chunk while held chunks are blocked or paused (rule 2); a swap is looked into (rule 4).
   */
  private rebalance(): void {
    if (this.closing || this.mains.size === 0) return;
    for (const q of this.scheduler.ungate()) this.mains.get(q)?.resume();
    if (this.scheduler.wantsOverflow()) {
      for (const queue of this.mains.keys()) {
        if (this.pending.has(queue) || this.scheduler.isGated(queue)) continue;
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
    if (this.scheduler.swapWanted()) void this.swap();
  }

  /** Rule 4: at the held limit with a free slot, hands back the blocked chunk furthest ahead if the queue has better. */
  private async swap(): Promise<void> {
    if (this.swapping) return;
    this.swapping = true;
    let handedBack = false;
    try {
      for (const [key, a] of this.active) this.scheduler.setPriority(key, priorityOf(a));
      const key = this.scheduler.pickYield(await this.queueBest());
      const a = key ? this.active.get(key) : undefined;
      if (a && this.scheduler.state(key!) === 'blocked') {
        a.handBack ??= 'blocked';
        a.runner.stop('yielded');
        handedBack = true;
      }
    } catch (e) {
      this.logger.warn(`looking at the queues: ${(e as Error).message}`);
    } finally {
      // while the situation lasts, look again: soon after a hand-back, less often while nothing better waits
      setTimeout(
        () => {
          this.swapping = false;
          if (this.scheduler.swapWanted()) void this.swap();
        },
        handedBack ? 50 : 250,
      ).unref();
    }
  }

  /** The smallest priority waiting in the queues served (0: a fresh chunk), or undefined when none waits. */
  private async queueBest(): Promise<number | undefined> {
    let best: number | undefined;
    for (const queue of this.queues.values()) {
      if ((await queue.getWaitingCount()) > 0) return 0;
      const [head] = await queue.getPrioritized(0, 0);
      if (head && (best === undefined || head.priority < best)) best = head.priority;
    }
    return best;
  }

  /** The queues among `names` that have chunks waiting (rule 5). */
  private async withWork(names: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of names) {
      const counts = await this.queues.get(name)?.getJobCounts('wait', 'prioritized');
      if (counts && counts.wait + counts.prioritized > 0) out.push(name);
    }
    return out;
  }

  /** One pool of DQS_SLOTS for every queue this worker serves (rules 1 and 5 of the scheduler). */
  private async takeSlot(
    queue: string,
    job: Job<ChunkJobData, ChunkResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<ChunkResult> {
    const preferred = this.scheduler.preferredOver(queue, this.mains.keys());
    const waiting = preferred.length ? await this.withWork(preferred) : [];
    const admission = this.scheduler.admit(queue, waiting);
    if (admission !== 'take') {
      // back where it was in its queue (visible there at once, for rule 5); this queue fetches no more until a
      // slot frees, or until the preferred queues are served (or this worker is resumed)
      if (admission !== 'paused')
        void this.mains
          .get(queue)
          ?.pause(true)
          .catch(() => undefined);
      await job.moveToWait(token).catch(() => undefined);
      throw new WaitingError();
    }
    let reserved = true;
    const release = () => {
      if (reserved) this.scheduler.abandoned();
      reserved = false;
    };
    try {
      return await this.process(queue, job, token, signal, () => {
        reserved = false;
      });
    } finally {
      release();
      this.rebalance();
    }
  }

  private async process(
    queue: string,
    job: Job<ChunkJobData, ChunkResult>,
    token: string | undefined,
    signal: AbortSignal | undefined,
    started: () => void,
  ): Promise<ChunkResult> {
    const data = job.data;
    const key = job.id!;
    if (!(await this.runs.exists(data.runId)))
      throw new UnrecoverableError(`run ${data.runId} is gone (its record is no longer in Redis)`);
    if (await this.runs.isCancelled(data.runId))
      throw new UnrecoverableError(`run ${data.runId} was cancelled`);
    if (await this.runs.isChunkKilled(data.runId, data.jobId)) return this.park(job, token, 0);
    if (this.paused || this.closing) {
      // taken while this worker was being paused or stopped: back where it was in the queue, for another worker
      await job.moveToWait(token).catch(() => undefined);
      throw new WaitingError();
    }
    if (await this.runs.isPaused(data.runId)) {
      // a paused run's chunks wait in the queue, not in a slot
      await this.runs.setChunk(data.runId, data.jobId, { state: 'paused' });
      return this.requeue(job, token, { delayMs: 1000 });
    }
    await this.runs.setState(data.runId, 'running');
    const worker = this.name;
    const entry: ActiveChunk = {
      key,
      runner: new ChunkRunner(data, this.redis, (sha) => this.store.read(sha)),
      data,
      blocked: false,
      done: 0,
      total: 0,
    };
    const runner = entry.runner;
    const log = (line: string) => {
      if (!entry.gone) void this.runs.log(data.runId, data.jobId, line).catch(() => undefined);
    };
    log(
      `started on ${worker} (attempt ${job.attemptsMade + 1}), seed ${data.params.seed + data.position}, ${data.neighbours.length} neighbour(s)`,
    );
    await this.runs.setChunk(data.runId, data.jobId, { state: 'running', worker });
    this.active.set(key, entry);
    this.scheduler.started(key, queue, job.priority);
    started();
    await this.applyPause(entry);
    this.rebalance();
    const onAbort = () => runner.stop('cancelled');
    signal?.addEventListener('abort', onAbort);
    // pub/sub can lose messages: the durable flags are checked every 2 s too
    const poll = setInterval(() => {
      void this.runs.exists(data.runId).then(
        (there) => {
          if (there || entry.gone) return;
          entry.gone = true;
          this.logger.warn(`run ${data.runId} is gone from Redis: chunk ${data.jobId} dropped`);
          runner.stop('cancelled');
        },
        () => undefined,
      );
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
          if (!runner.isPaused()) this.scheduler.setState(key, b ? 'blocked' : 'computing');
          this.rebalance();
          if (!entry.gone)
            void this.runs
              .setChunk(data.runId, data.jobId, { state: b ? 'blocked' : 'running', worker })
              .catch(() => undefined);
        },
        onProgress: ({ done, total, blocked }) => {
          entry.done = done;
          entry.total = total;
          const now = Date.now();
          if (now - lastReport < 1000 && done < total) return;
          lastReport = now;
          if (entry.gone) return;
          void job.updateProgress({ done, total, blocked }).catch(() => undefined);
          const state = runner.isPaused() ? 'paused' : entry.blocked ? 'blocked' : 'running';
          void this.runs
            .setChunk(data.runId, data.jobId, { state, done, total, worker })
            .catch(() => undefined);
        },
      });
      if (outcome.kind === 'stopped') {
        if (entry.gone) throw new UnrecoverableError(`run ${data.runId} is gone`);
        if (outcome.reason === 'yielded') {
          if (entry.killed || (await this.runs.isChunkKilled(data.runId, data.jobId)))
            return await this.park(job, token, outcome.done);
          const why = this.closing ? 'worker stopping' : (entry.handBack ?? 'blocked');
          log(`${why}: back to the queue after ${outcome.done} cells`);
          this.logger.log(
            `chunk ${data.jobId} of run ${data.runId}: ${why}, back to the queue after ${outcome.done} cells`,
          );
          await this.runs.setChunk(data.runId, data.jobId, { state: 'waiting', done: outcome.done, worker });
          return await this.requeue(job, token, { priority: priorityOf(entry) });
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
      if (!(e instanceof DelayedError) && !entry.gone) {
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
      this.scheduler.released(key);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // drain: running chunks stop at a cell boundary and go back to the queue; they resume elsewhere from their streams
    this.closing = true;
    this.scheduler.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const a of this.active.values()) a.runner.stop('yielded');
    await Promise.all([...this.mains.values(), ...this.overflow].map((w) => w.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
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
