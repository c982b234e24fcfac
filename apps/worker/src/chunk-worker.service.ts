/**
 * The BullMQ worker of chunks. Its main thread only takes jobs, renews locks, moves halo records between Redis
 * and shared memory, reports progress and relays cancellation; the kernel runs on worker threads.
 * A chunk blocked on its neighbours frees its slot (the worker may take another chunk) and, when the worker
 * already holds its maximum of chunks, goes back to the queue and resumes later from its own stream.
 */
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConnectionOptions, DelayedError, Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  CANCEL_CHANNEL,
  CHUNKS_QUEUE,
  PAUSE_CHANNEL,
  ChunkJobData,
  ChunkResult,
  QUEUE_PREFIX,
  ServiceConfig,
  redisOptionsFromUrl,
} from '@dqs/protocol';
import { ArrayStore, RunRepository, resolveDataDirs } from '@dqs/store';
import { ChunkRunner } from '@dqs/halo';

@Injectable()
export class ChunkWorkerService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('chunks');
  private worker!: Worker<ChunkJobData, ChunkResult>;
  private redis!: Redis;
  private subscriber!: Redis;
  private store!: ArrayStore;
  private runs!: RunRepository;
  private readonly active = new Map<string, { runner: ChunkRunner; runId: string; blockedSince?: number }>();
  private blocked = 0;
  private connection!: ConnectionOptions;
  /** A one-job worker waiting for a chunk to fill the slot of a blocked one (BullMQ cannot raise a running worker's concurrency). */
  private pending: Worker<ChunkJobData, ChunkResult> | undefined;
  private readonly overflow = new Set<Worker<ChunkJobData, ChunkResult>>();
  private closing = false;

  constructor(private readonly config: ServiceConfig) {}

  async onModuleInit(): Promise<void> {
    const connection = { ...redisOptionsFromUrl(this.config.REDIS_URL), maxRetriesPerRequest: null };
    this.redis = new Redis(connection);
    this.subscriber = new Redis(connection);
    this.store = new ArrayStore(resolveDataDirs(process.env).data);
    this.runs = new RunRepository(this.redis);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === CANCEL_CHANNEL) this.cancelRun(message);
      else if (channel === PAUSE_CHANNEL) {
        const [action, runId] = message.split(' ');
        this.pauseRun(runId, action === 'pause');
      }
    });
    await this.subscriber.subscribe(CANCEL_CHANNEL, PAUSE_CHANNEL);
    this.connection = connection as ConnectionOptions;
    this.worker = this.newWorker(this.config.DQS_SLOTS, (job, token, signal) =>
      this.process(job, token, signal),
    );
    this.logger.log(
      `worker ${this.config.DQS_WORKER_NAME}: ${this.config.DQS_SLOTS} slot(s), ` +
        `${this.config.DQS_THREADS ?? "the run's -j"} thread(s) per chunk, up to ${this.config.DQS_MAX_HELD_CHUNKS} chunks held`,
    );
  }

  private cancelRun(runId: string): void {
    for (const a of this.active.values()) if (a.runId === runId) a.runner.stop('cancelled');
  }

  /** A paused chunk stops at a cell boundary and frees its CPU (its slot goes to other work, as a blocked one's). */
  private pauseRun(runId: string, pause: boolean): void {
    for (const a of this.active.values()) {
      if (a.runId !== runId || a.runner.isPaused() === pause) continue;
      if (pause) a.runner.pause();
      else a.runner.resume();
      this.blocked += pause ? 1 : -1;
      this.rebalance();
    }
  }

  private newWorker(
    concurrency: number,
    processor: (
      job: Job<ChunkJobData, ChunkResult>,
      token?: string,
      signal?: AbortSignal,
    ) => Promise<ChunkResult>,
  ): Worker<ChunkJobData, ChunkResult> {
    const w = new Worker<ChunkJobData, ChunkResult>(CHUNKS_QUEUE, processor, {
      connection: this.connection,
      prefix: QUEUE_PREFIX,
      concurrency,
      lockDuration: this.config.DQS_LOCK_DURATION_MS,
      stalledInterval: this.config.DQS_STALLED_INTERVAL_MS,
      maxStalledCount: 10,
      name: this.config.DQS_WORKER_NAME,
    });
    w.on('error', (e) => this.logger.error(`worker error: ${e.message}`));
    return w;
  }

  /**
   * Keeps as many chunks computing as there are slots: when chunks are blocked on neighbours (they use no
   * CPU), a one-job worker takes another chunk, up to DQS_MAX_HELD_CHUNKS held at once.
   */
  private rebalance(): void {
    if (this.closing) return;
    const computing = this.active.size - this.blocked;
    if (
      computing < this.config.DQS_SLOTS &&
      this.active.size < this.config.DQS_MAX_HELD_CHUNKS &&
      !this.pending
    ) {
      const w: Worker<ChunkJobData, ChunkResult> = this.newWorker(1, async (job, token, signal) => {
        if (this.pending === w) this.pending = undefined;
        try {
          return await this.process(job, token, signal);
        } finally {
          setImmediate(() => {
            this.overflow.delete(w);
            void w.close();
          });
        }
      });
      this.pending = w;
      this.overflow.add(w);
    } else if (computing >= this.config.DQS_SLOTS && this.pending) {
      const w = this.pending;
      this.pending = undefined;
      this.overflow.delete(w);
      void w.close();
    }
  }

  private async process(
    job: Job<ChunkJobData, ChunkResult>,
    token?: string,
    signal?: AbortSignal,
  ): Promise<ChunkResult> {
    const data = job.data;
    const key = job.id!;
    if (await this.runs.isCancelled(data.runId))
      throw new UnrecoverableError(`run ${data.runId} was cancelled`);
    await this.runs.setState(data.runId, 'running');
    const worker = this.config.DQS_WORKER_NAME;
    await this.runs.setChunk(data.runId, data.jobId, { state: 'running', worker });
    const runner = new ChunkRunner(data, this.redis, (sha) => this.store.read(sha));
    const entry: { runner: ChunkRunner; runId: string; blockedSince?: number } = {
      runner,
      runId: data.runId,
    };
    this.active.set(key, entry);
    this.rebalance();
    const onAbort = () => runner.stop('cancelled');
    signal?.addEventListener('abort', onAbort);
    const cancelPoll = setInterval(() => {
      void this.runs.isCancelled(data.runId).then(
        (c) => c && runner.stop('cancelled'),
        () => undefined,
      );
    }, 2000);
    let lastReport = 0;
    let isBlocked = false;
    try {
      const outcome = await runner.execute({
        threads: this.config.DQS_THREADS,
        onBlocked: (b) => {
          isBlocked = b;
          entry.blockedSince = b ? Date.now() : undefined;
          this.blocked += b ? 1 : -1;
          this.rebalance();
          void this.runs
            .setChunk(data.runId, data.jobId, { state: b ? 'blocked' : 'running', worker })
            .catch(() => undefined);
        },
        onProgress: ({ done, total, blocked }) => {
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
          void this.runs
            .setChunk(data.runId, data.jobId, {
              state: isBlocked ? 'blocked' : 'running',
              done,
              total,
              worker,
            })
            .catch(() => undefined);
        },
      });
      if (outcome.kind === 'stopped') {
        if (outcome.reason === 'yielded') {
          this.logger.log(
            `chunk ${data.jobId} of run ${data.runId}: blocked, back to the queue after ${outcome.done} cells`,
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
      this.logger.log(
        `chunk ${data.jobId} of run ${data.runId}: ${outcome.cells} cells (${outcome.replayed} replayed), ` +
          `sent ${outcome.publishedBatches} batches / ${(outcome.publishedBytes / 1024).toFixed(0)} KiB, received ${outcome.receivedBatches} batches`,
      );
      return { streamKey: outcome.streamKey, cells: outcome.cells };
    } catch (e) {
      if (!(e instanceof DelayedError)) {
        const message = e instanceof Error ? e.message : String(e);
        const cancelled = e instanceof UnrecoverableError && message.includes('cancelled');
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
      clearInterval(cancelPoll);
      signal?.removeEventListener('abort', onAbort);
      if (isBlocked) this.blocked--;
      if (runner.isPaused()) this.blocked--;
      this.active.delete(key);
      this.rebalance();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    // drain: running chunks stop at a cell boundary; their jobs resume elsewhere from their streams
    this.closing = true;
    for (const a of this.active.values()) a.runner.stop('yielded');
    await Promise.all([this.worker?.close(), ...[...this.overflow].map((w) => w.close())]);
    this.subscriber?.disconnect();
    this.redis?.disconnect();
  }
}
