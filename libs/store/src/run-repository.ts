/** Run and chunk state kept in Redis (small JSON values; grids never go there). */
import type { Redis } from 'ioredis';
import {
  ChunkJobData,
  ChunkState,
  ChunkStatus,
  DEFAULT_BATCH,
  DEFAULT_NAMESPACE,
  RUNS_INDEX_KEY,
  RunRecord,
  RunState,
  RUN_EVENTS_CHANNEL,
  cancelledKey,
  chunkDataKey,
  chunkLogKey,
  chunkStatesKey,
  killedJobsKey,
  pausedKey,
  latestRunOfJobKey,
  runKey,
} from '@dqs/protocol';

export interface ChunkStateRecord {
  state: ChunkState;
  done?: number;
  total?: number;
  error?: string;
  worker?: string;
  updatedAt: string;
}

/** A chunk whose every cell is simulated (its stream is complete), whether or not its output is written yet. */
export function isSimulated(chunk: ChunkStateRecord | undefined): boolean {
  return chunk?.state === 'simulated' || chunk?.state === 'durable';
}

export class RunRepository {
  constructor(private readonly redis: Redis) {}

  async create(record: RunRecord): Promise<void> {
    const multi = this.redis.multi();
    multi.hset(runKey(record.runId), 'record', JSON.stringify(record), 'state', record.state);
    for (const jobId of record.jobIds) {
      multi.hset(
        chunkStatesKey(record.runId),
        jobId,
        JSON.stringify({ state: 'waiting', updatedAt: new Date().toISOString() }),
      );
    }
    multi.zadd(RUNS_INDEX_KEY, Date.now(), record.runId);
    await multi.exec();
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const [raw, state, error, finishedAt, retries] = await this.redis.hmget(
      runKey(runId),
      'record',
      'state',
      'error',
      'finishedAt',
      'retries',
    );
    if (!raw) return undefined;
    const record = JSON.parse(raw) as RunRecord;
    record.namespace ??= DEFAULT_NAMESPACE;
    record.batch ??= DEFAULT_BATCH;
    record.state = (state as RunState) ?? record.state;
    if (error) record.error = error;
    if (finishedAt) record.finishedAt = finishedAt;
    if (retries) record.retries = Number(retries);
    return record;
  }

  /** Whether the run's record is there (a Redis restarted without persistence, or a flush, loses it). */
  async exists(runId: string): Promise<boolean> {
    return (await this.redis.hexists(runKey(runId), 'record')) === 1;
  }

  async list(limit = 100): Promise<string[]> {
    return this.redis.zrevrange(RUNS_INDEX_KEY, 0, limit - 1);
  }

  /** Moves a run to a state; final states (completed, failed, cancelled) are never left, and a paused run stays paused until resumed. */
  async setState(
    runId: string,
    state: RunState,
    error?: string,
    opts: { overrideCancelled?: boolean } = {},
  ): Promise<boolean> {
    const current = await this.redis.hget(runKey(runId), 'state');
    const final = current === 'completed' || current === 'failed' || current === 'cancelled';
    if (final && !(opts.overrideCancelled && current === 'cancelled' && state === 'completed')) return false;
    if (current === 'paused' && state === 'running') return false;
    const fields: string[] = ['state', state];
    if (error) fields.push('error', error);
    if (state === 'completed' || state === 'failed' || state === 'cancelled')
      fields.push('finishedAt', new Date().toISOString());
    await this.redis.hset(runKey(runId), ...fields);
    await this.redis.publish(RUN_EVENTS_CHANNEL, runId);
    return true;
  }

  /** An ended run goes back to running for its k-th retry (dqs retry): its error and end time are cleared. */
  async reopen(runId: string, retries: number, jobIds: string[]): Promise<void> {
    const multi = this.redis.multi();
    multi.hset(runKey(runId), 'state', 'queued', 'retries', String(retries));
    multi.hdel(runKey(runId), 'error', 'finishedAt');
    multi.del(cancelledKey(runId), pausedKey(runId));
    multi.srem(killedJobsKey(runId), ...jobIds);
    for (const jobId of jobIds)
      multi.hset(
        chunkStatesKey(runId),
        jobId,
        JSON.stringify({ state: 'waiting', updatedAt: new Date().toISOString() }),
      );
    await multi.exec();
    await this.redis.publish(RUN_EVENTS_CHANNEL, runId);
  }

  /** Every chunk's job data, kept so that dqs retry can enqueue chunks again. */
  async saveChunkData(runId: string, chunks: ChunkJobData[]): Promise<void> {
    if (chunks.length)
      await this.redis.hset(chunkDataKey(runId), ...chunks.flatMap((c) => [c.jobId, JSON.stringify(c)]));
  }

  async chunkData(runId: string, jobId: string): Promise<ChunkJobData | undefined> {
    const raw = await this.redis.hget(chunkDataKey(runId), jobId);
    return raw ? (JSON.parse(raw) as ChunkJobData) : undefined;
  }

  /** Chunks killed one by one (dqs kill RUN --jobs): parked until retried. */
  async killChunks(runId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length) await this.redis.sadd(killedJobsKey(runId), ...jobIds);
  }

  async unkillChunks(runId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length) await this.redis.srem(killedJobsKey(runId), ...jobIds);
  }

  async isChunkKilled(runId: string, jobId: string): Promise<boolean> {
    return (await this.redis.sismember(killedJobsKey(runId), jobId)) === 1;
  }

  async killedChunks(runId: string): Promise<string[]> {
    return this.redis.smembers(killedJobsKey(runId));
  }

  async pause(runId: string): Promise<void> {
    await this.redis.set(pausedKey(runId), '1');
    await this.redis.hset(runKey(runId), 'state', 'paused');
    await this.redis.publish(RUN_EVENTS_CHANNEL, runId);
  }

  async resume(runId: string): Promise<void> {
    await this.redis.del(pausedKey(runId));
    await this.redis.hset(runKey(runId), 'state', 'running');
    await this.redis.publish(RUN_EVENTS_CHANNEL, runId);
  }

  async isPaused(runId: string): Promise<boolean> {
    return (await this.redis.exists(pausedKey(runId))) === 1;
  }

  /** A chunk's state; without done and total it keeps the last ones, so that progress never goes back on a pause or a requeue. */
  async setChunk(runId: string, jobId: string, state: Omit<ChunkStateRecord, 'updatedAt'>): Promise<void> {
    let record: Omit<ChunkStateRecord, 'updatedAt'> = state;
    if (state.done === undefined || state.total === undefined) {
      const raw = await this.redis.hget(chunkStatesKey(runId), jobId);
      const prev = raw ? (JSON.parse(raw) as ChunkStateRecord) : undefined;
      record = { ...state, done: state.done ?? prev?.done, total: state.total ?? prev?.total };
    }
    await this.redis.hset(
      chunkStatesKey(runId),
      jobId,
      JSON.stringify({ ...record, updatedAt: new Date().toISOString() }),
    );
  }

  async chunks(runId: string): Promise<Record<string, ChunkStateRecord>> {
    const raw = await this.redis.hgetall(chunkStatesKey(runId));
    const out: Record<string, ChunkStateRecord> = {};
    for (const [k, v] of Object.entries(raw)) out[k] = JSON.parse(v) as ChunkStateRecord;
    return out;
  }

  /** Appends a line to a chunk's log (kept in Redis, so that every component and host can read it). */
  async log(runId: string, jobId: string, line: string): Promise<void> {
    const key = chunkLogKey(runId, jobId);
    await this.redis.multi().rpush(key, `${new Date().toISOString()} ${line}`).ltrim(key, -2000, -1).exec();
  }

  async readLog(runId: string, jobId: string): Promise<string[]> {
    return this.redis.lrange(chunkLogKey(runId, jobId), 0, -1);
  }

  async markCancelled(runId: string): Promise<void> {
    await this.redis.set(cancelledKey(runId), '1');
  }

  async isCancelled(runId: string): Promise<boolean> {
    return (await this.redis.exists(cancelledKey(runId))) === 1;
  }

  async setLatestRunOfJob(namespace: string, jobId: string, runId: string): Promise<void> {
    await this.redis.set(latestRunOfJobKey(namespace, jobId), runId);
  }

  async latestRunOfJob(namespace: string, jobId: string): Promise<string | null> {
    return this.redis.get(latestRunOfJobKey(namespace, jobId));
  }

  /** Status as users see it: progress 0-100 per chunk and overall, 100 only once every output is durable. */
  async status(
    runId: string,
  ): Promise<{ run: RunRecord; progress: number; chunks: ChunkStatus[] } | undefined> {
    const run = await this.get(runId);
    if (!run) return undefined;
    const states = await this.chunks(runId);
    const chunks: ChunkStatus[] = run.jobIds.map((jobId, position) => {
      const s = states[jobId] ?? { state: 'waiting', updatedAt: '' };
      let progress = 0;
      if (s.state === 'durable') progress = 100;
      else if (s.total) progress = Math.min(99, Math.floor((100 * (s.done ?? 0)) / s.total));
      return { jobId, position, state: s.state, progress, error: s.error, worker: s.worker };
    });
    const progress = chunks.length ? chunks.reduce((a, c) => a + c.progress, 0) / chunks.length : 0;
    return { run, progress: Math.round(progress * 100) / 100, chunks };
  }
}
