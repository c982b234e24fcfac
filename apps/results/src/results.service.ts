/**
 * The results service: collects each chunk as soon as it completes (rebuilds its cropped output from its
 * stream and writes it atomically under the data directory), finalises runs (mosaic, state), and records
 * failures with the failing chunk's error. Progress reaches 100 only once every output is durable.
 */
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConnectionOptions, Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { parseNpy, writeGrid } from '@dqs/grids';
import {
  CANCEL_CHANNEL,
  CHUNKS_QUEUE,
  CHUNK_QUEUES_KEY,
  DEFAULT_NAMESPACE,
  chunkQueueFor,
  latestChunkJob,
  ChunkJobData,
  QUEUE_PREFIX,
  RUNS_QUEUE,
  RunJobData,
  ServiceConfig,
  chunkStreamKey,
  redisOptionsFromUrl,
} from '@dqs/protocol';
import {
  ArrayStore,
  RunRepository,
  chunkOutputFiles,
  isSimulated,
  mosaicFiles,
  resolveDataDirs,
  runSummary,
  sendWebhook,
  sweep,
  migrateLegacyLayout,
  writeManifest,
} from '@dqs/store';
import { ChunkOutput, assembleMosaic, collectChunk } from '@dqs/halo';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

@Injectable()
export class ResultsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('results');
  private redis!: Redis;
  private runs!: RunRepository;
  private store!: ArrayStore;
  private dataDir!: string;
  private connection!: ConnectionOptions;
  /** Every chunk queue ('chunks' and one per set of required capabilities), with its events. */
  private readonly queues = new Map<string, { queue: Queue<ChunkJobData>; events: QueueEvents }>();
  private queueScan: NodeJS.Timeout | undefined;

  private async followQueues(): Promise<void> {
    const names = new Set([CHUNKS_QUEUE, ...(await this.redis.smembers(CHUNK_QUEUES_KEY))]);
    for (const name of names) this.follow(name);
  }

  /** A chunk queue, and its events followed (completions are collected, failures recorded). */
  private follow(name: string): Queue<ChunkJobData> {
    let entry = this.queues.get(name);
    if (!entry) {
      const queue = new Queue<ChunkJobData>(name, { connection: this.connection, prefix: QUEUE_PREFIX });
      const events = new QueueEvents(name, { connection: this.connection, prefix: QUEUE_PREFIX });
      events.on('completed', ({ jobId }) => void this.onChunkCompleted(queue, jobId));
      events.on('failed', ({ jobId, failedReason }) => void this.onChunkFailed(queue, jobId, failedReason));
      entry = { queue, events };
      this.queues.set(name, entry);
    }
    return entry.queue;
  }

  private runWorker!: Worker<RunJobData>;
  private readonly collecting = new Map<string, Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;

  /** Retention: halo streams of ended runs, old run records, orphan arrays (see libs/store retention). */
  async cleanUp(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const r = await sweep(this.redis, this.store, this.config.DQS_RETENTION_SECONDS);
      if (r.streamsDeleted || r.runsForgotten || r.arraysDeleted || r.orphansDeleted) {
        this.logger.log(
          `clean-up: ${r.streamsDeleted} halo stream(s), ${r.runsForgotten} old run record(s), ${r.arraysDeleted} orphan array(s) removed` +
            (r.orphansDeleted ? `, ${r.orphansDeleted} other key(s) of runs whose record is gone` : ''),
        );
      }
    } catch (e) {
      this.logger.error(`clean-up: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
  }

  constructor(private readonly config: ServiceConfig) {}

  async onModuleInit(): Promise<void> {
    const connection = {
      ...redisOptionsFromUrl(this.config.REDIS_URL),
      maxRetriesPerRequest: null,
    } as ConnectionOptions;
    this.redis = new Redis(connection as never);
    this.runs = new RunRepository(this.redis);
    this.dataDir = resolveDataDirs(process.env).data;
    const moved = migrateLegacyLayout(this.dataDir);
    if (moved.names || moved.runs)
      this.logger.log(
        `data directory: ${moved.names} name(s) moved to names/default, ${moved.runs} run(s) to archive/default/default`,
      );
    this.store = new ArrayStore(this.dataDir);
    this.connection = connection;
    await this.followQueues();
    this.queueScan = setInterval(() => void this.followQueues().catch(() => undefined), 2000);
    this.runWorker = new Worker<RunJobData>(RUNS_QUEUE, (job) => this.finalize(job), {
      connection,
      prefix: QUEUE_PREFIX,
      concurrency: 2,
    });
    this.runWorker.on('error', (e) => this.logger.error(`run worker: ${e.message}`));
    this.sweeper = setInterval(() => void this.cleanUp(), this.config.DQS_SWEEP_SECONDS * 1000);
    this.logger.log(`results: writing outputs under ${this.dataDir}`);
  }

  private async onChunkCompleted(queue: Queue<ChunkJobData>, bullId: string): Promise<void> {
    try {
      const job = await queue.getJob(bullId);
      if (job) await this.collect(job.data);
    } catch (e) {
      this.logger.error(`collecting ${bullId}: ${(e as Error).message}`);
    }
  }

  private async onChunkFailed(queue: Queue<ChunkJobData>, bullId: string, reason: string): Promise<void> {
    try {
      const job = await queue.getJob(bullId);
      if (!job || (await job.getState()) !== 'failed') return;
      const { runId, jobId } = job.data;
      if (await this.runs.isCancelled(runId)) await this.runs.setState(runId, 'cancelled');
      else if (await this.runs.setState(runId, 'failed', `chunk ${jobId} failed: ${reason}`)) {
        void this.notify(runId, 'failed', `chunk ${jobId} failed: ${reason}`);
        await this.archiveManifest(runId);
        this.logger.warn(`run ${runId} failed: chunk ${jobId}: ${reason}`);
        // the other chunks would wait for this one's cells forever: stop them
        await this.runs.markCancelled(runId);
        await this.redis.publish(CANCEL_CHANNEL, runId);
      }
    } catch (e) {
      this.logger.error(`failure of ${bullId}: ${(e as Error).message}`);
    }
  }

  /** Writes one chunk's output (once; concurrent calls share the work). */
  collect(data: ChunkJobData): Promise<void> {
    const key = `${data.runId}/${data.jobId}`;
    let p = this.collecting.get(key);
    if (!p) {
      p = this.doCollect(data).finally(() => this.collecting.delete(key));
      this.collecting.set(key, p);
    }
    return p;
  }

  private async doCollect(data: ChunkJobData): Promise<void> {
    const states = await this.runs.chunks(data.runId);
    if (states[data.jobId]?.state === 'durable') return;
    const out = await collectChunk(data, this.redis, (sha) => this.store.read(sha));
    this.writeOutput(chunkOutputFiles(this.dataDir, data, data.jobId), out);
    await this.runs.setChunk(data.runId, data.jobId, {
      state: 'durable',
      done: 1,
      total: 1,
      worker: states[data.jobId]?.worker,
    });
    await this.runs.log(data.runId, data.jobId, 'output written (durable)');
    await this.runs.setLatestRunOfJob(data.namespace ?? DEFAULT_NAMESPACE, data.jobId, data.runId);
    await this.archiveManifest(data.runId);
    this.logger.log(`run ${data.runId}: chunk ${data.jobId} written`);
  }

  private writeOutput(files: { sim: string; index: string }, out: ChunkOutput): void {
    mkdirSync(dirname(files.sim), { recursive: true });
    const shape = out.sim.vars > 1 ? [...out.sim.shape, out.sim.vars] : [...out.sim.shape];
    writeGrid(files.index, { shape: [...out.sim.shape], dtype: 'uint32', data: out.index });
    writeGrid(files.sim, { shape, dtype: 'float32', data: out.sim.data });
  }

  /** The run's parent job: every chunk has completed; make sure each is written, then the mosaic. */
  private async finalize(job: Job<RunJobData>): Promise<{ mosaic?: string }> {
    const { runId } = job.data;
    const record = await this.runs.get(runId);
    if (!record) throw new Error(`run ${runId} is unknown`);
    if (await this.runs.isCancelled(runId)) {
      // a killed run whose unstarted chunks were removed from its flow: nothing to assemble (dqs retry resumes it)
      const states = await this.runs.chunks(runId);
      if (!record.jobIds.every((j) => isSimulated(states[j]))) return {};
    }
    const tiles: { coords: number[]; output: ChunkOutput }[] = [];
    for (const jobId of record.jobIds) {
      const queue = this.follow(chunkQueueFor(record.requires));
      const data =
        (await this.runs.chunkData(runId, jobId)) ??
        (await latestChunkJob((id) => queue.getJob(id), record, jobId))?.data;
      if (!data) throw new Error(`run ${runId}: the data of chunk ${jobId} is gone`);
      await this.collect(data);
      const files = chunkOutputFiles(this.dataDir, record, jobId);
      const sim = parseNpy(readFileSync(files.sim), files.sim);
      const index = parseNpy(readFileSync(files.index), files.index);
      tiles.push({
        coords: data.coords,
        output: {
          sim: { shape: record.tileShape, vars: record.vars, data: sim.data as Float32Array },
          index: index.data as Uint32Array,
        },
      });
    }
    const mosaic = assembleMosaic(record.tileShape, record.gridShape, record.vars, tiles);
    const files = mosaicFiles(this.dataDir, record);
    this.writeOutput(files, mosaic);
    if (await this.runs.setState(runId, 'completed')) void this.notify(runId, 'completed');
    else if ((await this.runs.get(runId))?.state === 'cancelled') {
      // a kill that came after every chunk had been simulated stopped nothing: the run is complete
      await this.runs.setState(runId, 'completed', undefined, { overrideCancelled: true });
      this.logger.warn(`run ${runId}: killed after every chunk had been simulated; it completed`);
      void this.notify(runId, 'completed');
    }
    await this.archiveManifest(runId);
    // the halo streams are no longer needed once every output is durable
    await this.redis.del(...record.diIds.map((d) => chunkStreamKey(runId, d)));
    this.logger.log(`run ${runId} completed: mosaic ${mosaic.sim.shape.join('x')} in ${files.sim}`);
    return { mosaic: files.sim };
  }

  /** Refreshes the run's manifest in the archive (what `dqs fetch` searches). */
  private async archiveManifest(runId: string): Promise<void> {
    const record = await this.runs.get(runId);
    if (record) writeManifest(this.dataDir, record);
  }

  private async notify(runId: string, state: 'completed' | 'failed', error?: string): Promise<void> {
    const record = await this.runs.get(runId);
    if (!record?.webhook) return;
    const problem = await sendWebhook(
      record.webhook,
      runSummary(record, state, await this.runs.chunks(runId), error),
    );
    if (problem) this.logger.warn(`webhook of run ${runId} (${record.webhook}): ${problem}`);
    else this.logger.log(`run ${runId}: webhook notified (${state})`);
  }

  async ping(): Promise<string> {
    return this.redis.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.queueScan) clearInterval(this.queueScan);
    await this.runWorker?.close();
    for (const { queue, events } of this.queues.values()) {
      await events.close();
      await queue.close();
    }
    this.redis?.disconnect();
  }
}
