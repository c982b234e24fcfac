/**
 * The clean-up, so that Redis and the disk do not fill up: the halo streams of a completed run (they are only
 * needed while it runs; a failed or cancelled run keeps them for `dqs retry` until its record goes), the records of runs that ended longer ago than the retention (state, chunk
 * states, logs, flags), keys of runs whose record is gone (halo streams and logs that workers wrote after Redis
 * lost the run), and uploaded arrays that no name and no kept run refers to, older than the retention.
 * Outputs in the archive are results, not intermediate data: they stay.
 */
import type { Redis } from 'ioredis';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  RUNS_INDEX_KEY,
  cancelledKey,
  chunkLogKey,
  chunkStatesKey,
  chunkDataKey,
  chunkStreamKey,
  killedJobsKey,
  pausedKey,
  runKey,
} from '@dqs/protocol';
import { ArrayStore } from './array-store';
import { RunRepository } from './run-repository';

export interface SweepReport {
  streamsDeleted: number;
  runsForgotten: number;
  arraysDeleted: number;
  /** Other keys of runs whose record is gone. */
  orphansDeleted: number;
}

/** Every key of a run is dqs:{<runId>}:...; the run exists while dqs:{<runId>}:run holds its record. */
const RUN_KEY_PATTERN = /^dqs:\{([^}]+)\}:/;

/** Deletes the keys of runs whose record is gone (streams counted apart). */
async function sweepOrphans(redis: Redis, report: SweepReport): Promise<void> {
  const known = new Map<string, boolean>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'dqs:{*}:*', 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const runId = RUN_KEY_PATTERN.exec(key)?.[1];
      if (!runId) continue;
      if (!known.has(runId)) known.set(runId, (await redis.hexists(runKey(runId), 'record')) === 1);
      if (known.get(runId)) continue;
      if ((await redis.del(key)) === 0) continue;
      if (key.startsWith(chunkStreamKey(runId, ''))) report.streamsDeleted++;
      else report.orphansDeleted++;
    }
  } while (cursor !== '0');
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export async function sweep(
  redis: Redis,
  store: ArrayStore,
  retentionSeconds: number,
  now = Date.now(),
): Promise<SweepReport> {
  const runs = new RunRepository(redis);
  const report: SweepReport = { streamsDeleted: 0, runsForgotten: 0, arraysDeleted: 0, orphansDeleted: 0 };
  const keep = new Set<string>();
  for (const runId of await redis.zrange(RUNS_INDEX_KEY, '0', '-1')) {
    const record = await runs.get(runId);
    if (!record) {
      await redis.zrem(RUNS_INDEX_KEY, runId);
      continue;
    }
    if (!FINAL.has(record.state)) {
      record.arrays?.forEach((a) => keep.add(a));
      continue;
    }
    const streams = record.diIds.map((d) => chunkStreamKey(runId, d));
    // a completed run's streams are done with; a failed or cancelled run's are kept while it can be retried
    if (record.state === 'completed') report.streamsDeleted += await redis.del(...streams);
    const ended = Date.parse(record.finishedAt ?? record.createdAt);
    if (now - ended > retentionSeconds * 1000) {
      report.streamsDeleted += await redis.del(...streams);
      await redis.del(
        killedJobsKey(runId),
        chunkDataKey(runId),
        runKey(runId),
        chunkStatesKey(runId),
        cancelledKey(runId),
        pausedKey(runId),
        ...record.jobIds.map((j) => chunkLogKey(runId, j)),
      );
      await redis.zrem(RUNS_INDEX_KEY, runId);
      report.runsForgotten++;
    } else record.arrays?.forEach((a) => keep.add(a));
  }
  await sweepOrphans(redis, report);
  for (const named of store.allNames()) keep.add(named.sha256);
  const dir = join(store.dataDir, 'arrays');
  for (const file of readdirSync(dir)) {
    const m = /^([0-9a-f]{64})\.npy$/.exec(file);
    if (!m || keep.has(m[1])) continue;
    const path = join(dir, file);
    if (now - statSync(path).mtimeMs > retentionSeconds * 1000) {
      rmSync(path, { force: true });
      report.arraysDeleted++;
    }
  }
  return report;
}
