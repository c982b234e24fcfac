/** Queue, key, stream and channel names shared by every service. All of a run's keys share its {runId} hash tag. */

/** BullMQ prefix: a hash tag, so that BullMQ works on Redis Cluster. */
export const QUEUE_PREFIX = '{dqs}';
export const CHUNKS_QUEUE = 'chunks';
/** Every chunk queue in use: 'chunks' and one per set of required capabilities (a Redis set). */
export const CHUNK_QUEUES_KEY = 'dqs:chunk-queues';

/** Chunks of a run that requires capabilities go to their own queue, taken only by workers that have them all. */
export function chunkQueueFor(requires: readonly string[] | undefined): string {
  const tags = [...new Set(requires ?? [])].sort();
  return tags.length ? `${CHUNKS_QUEUE}@${tags.join('+')}` : CHUNKS_QUEUE;
}

/** The capabilities a chunk queue requires (none for 'chunks'). */
export function requirementsOf(queue: string): string[] {
  const at = queue.indexOf('@');
  return at < 0
    ? []
    : queue
        .slice(at + 1)
        .split('+')
        .filter(Boolean);
}
export const RUNS_QUEUE = 'runs';

export const runKey = (runId: string) => `dqs:{${runId}}:run`;
/** Per-chunk state of a run: hash jobId -> JSON. */
export const chunkStatesKey = (runId: string) => `dqs:{${runId}}:chunks`;
/** Durable set-pixel records of one chunk, keyed by its DI identifier. */
export const chunkStreamKey = (runId: string, diId: string) => `dqs:{${runId}}:di:${diId}`;
/** Wake-ups (never the only copy of anything) for readers of that stream. */
export const chunkWakeChannel = (runId: string, diId: string) => `dqs:{${runId}}:wake:${diId}`;
export const cancelledKey = (runId: string) => `dqs:{${runId}}:cancelled`;
/** Each chunk's job data (hash jobId -> JSON ChunkJobData), so that dqs retry can enqueue it again. */
export const chunkDataKey = (runId: string) => `dqs:{${runId}}:jobdata`;
/** Job ids of a run's chunks killed one by one (dqs kill RUN --jobs): they stay parked until dqs retry. */
export const killedJobsKey = (runId: string) => `dqs:{${runId}}:killed`;
/** Messages "<runId>" (every chunk of the run) or "<runId> <jobId>,<jobId>..." (those chunks). */
export const CANCEL_CHANNEL = 'dqs:cancel';

/**
 * BullMQ job id of a chunk: <runId>-<jobId> for the first attempt of the run, <runId>-<jobId>~<k> for its k-th
 * retry (dqs retry on an ended run enqueues the chunks again as a new flow).
 */
export const chunkJobId = (runId: string, jobId: string, retry = 0) =>
  retry > 0 ? `${runId}-${jobId}~${retry}` : `${runId}-${jobId}`;
/** Every BullMQ job id a chunk may have had, latest first. */
export const chunkJobIds = (runId: string, jobId: string, retries = 0) =>
  Array.from({ length: retries + 1 }, (_, i) => chunkJobId(runId, jobId, retries - i));
/** The latest BullMQ job of a chunk (of its latest attempt that exists), looked up with a queue's getJob. */
export async function latestChunkJob<J>(
  getJob: (id: string) => Promise<J | undefined | null>,
  run: { runId: string; retries?: number },
  jobId: string,
): Promise<J | undefined> {
  for (const id of chunkJobIds(run.runId, jobId, run.retries ?? 0)) {
    const job = await getJob(id);
    if (job) return job;
  }
  return undefined;
}
/** The parent job of a run's flow (one per retry of an ended run). */
export const runJobId = (runId: string, retry = 0) => (retry > 0 ? `${runId}~${retry}` : runId);
export const pausedKey = (runId: string) => `dqs:{${runId}}:paused`;
/** A chunk's log lines (the last 2000). */
export const chunkLogKey = (runId: string, jobId: string) => `dqs:{${runId}}:log:${jobId}`;
/** Pause and resume of runs: messages "pause <runId>" / "resume <runId>" (the paused key is the durable state). */
export const PAUSE_CHANNEL = 'dqs:pause';
/** A run's state or a chunk's progress changed (for live views); the message is the run id. */
export const RUN_EVENTS_CHANNEL = 'dqs:run-events';
/** Latest run that produced a job id's chunk in a namespace (downloads by job id, as G2S's -waitAndDownload). */
export const latestRunOfJobKey = (namespace: string, jobId: string) => `dqs:ns:${namespace}:job:${jobId}:run`;

/**
 * Runs, job ids and prepared inputs live in a namespace (one per user or project), so that two users' job 101
 * never collide; a run also belongs to a batch (a name that groups runs in the archive).
 */
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_BATCH = 'default';
/** A namespace or batch name (also a folder name in the data directory). */
export const SCOPE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const SCOPE_NAME_RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit";

/** Why a namespace or batch name is not acceptable, or undefined when it is. */
export function scopeNameProblem(what: 'namespace' | 'batch', name: string): string | undefined {
  return SCOPE_NAME_PATTERN.test(name)
    ? undefined
    : `${what} '${name}' is not a valid name: use ${SCOPE_NAME_RULE}`;
}

/** The same for a filter, which may also be a pattern with '*' (dqs fetch, GET /v1/archive). */
export function scopeFilterProblem(
  what: 'namespace' | 'batch',
  filter: string | undefined,
): string | undefined {
  return filter && !filter.includes('*') ? scopeNameProblem(what, filter) : undefined;
}
export const RUNS_INDEX_KEY = 'dqs:runs';

export const inputTiName = (k: number, jobId: string) => `input_ti_${k}_${jobId}`;
export const inputDiName = (jobId: string) => `input_di_${jobId}`;

/** Live workers: a sorted set name -> last heartbeat (ms), and a hash per worker with what it reports. */
export const WORKERS_KEY = 'dqs:workers';
export const workerKey = (name: string) => `dqs:worker:${name}`;
export const workerPausedKey = (name: string) => `dqs:worker:${name}:paused`;
/** Messages "pause <worker>" / "resume <worker>". */
export const WORKER_CONTROL_CHANNEL = 'dqs:worker-control';
