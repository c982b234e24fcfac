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
export const CANCEL_CHANNEL = 'dqs:cancel';
export const pausedKey = (runId: string) => `dqs:{${runId}}:paused`;
/** A chunk's log lines (the last 2000). */
export const chunkLogKey = (runId: string, jobId: string) => `dqs:{${runId}}:log:${jobId}`;
/** Pause and resume of runs: messages "pause <runId>" / "resume <runId>" (the paused key is the durable state). */
export const PAUSE_CHANNEL = 'dqs:pause';
/** A run's state or a chunk's progress changed (for live views); the message is the run id. */
export const RUN_EVENTS_CHANNEL = 'dqs:run-events';
/** Latest run that produced a job id's chunk (downloads by job id, as G2S's -waitAndDownload). */
export const latestRunOfJobKey = (jobId: string) => `dqs:job:${jobId}:run`;
export const RUNS_INDEX_KEY = 'dqs:runs';

export const inputTiName = (k: number, jobId: string) => `input_ti_${k}_${jobId}`;
export const inputDiName = (jobId: string) => `input_di_${jobId}`;

/** Live workers: a sorted set name -> last heartbeat (ms), and a hash per worker with what it reports. */
export const WORKERS_KEY = 'dqs:workers';
export const workerKey = (name: string) => `dqs:worker:${name}`;
export const workerPausedKey = (name: string) => `dqs:worker:${name}:paused`;
/** Messages "pause <worker>" / "resume <worker>". */
export const WORKER_CONTROL_CHANNEL = 'dqs:worker-control';
