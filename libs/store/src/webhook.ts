/** Tells a run's webhook how it ended: a POST of its summary as JSON, tried 3 times. */
import type { RunRecord } from '@dqs/protocol';
import type { ChunkStateRecord } from './run-repository';

export interface RunSummary {
  event: 'run.completed' | 'run.failed' | 'run.cancelled';
  runId: string;
  state: string;
  error?: string;
  createdAt: string;
  finishedAt: string;
  gridShape: number[];
  tileShape: number[];
  jobs: { jobId: string; state: string; error?: string }[];
}

export function runSummary(
  record: RunRecord,
  state: 'completed' | 'failed' | 'cancelled',
  chunks: Record<string, ChunkStateRecord>,
  error?: string,
): RunSummary {
  return {
    event: `run.${state}`,
    runId: record.runId,
    state,
    error: error ?? record.error,
    createdAt: record.createdAt,
    finishedAt: new Date().toISOString(),
    gridShape: record.gridShape,
    tileShape: record.tileShape,
    jobs: record.jobIds.map((jobId) => ({
      jobId,
      state: chunks[jobId]?.state ?? 'waiting',
      error: chunks[jobId]?.error,
    })),
  };
}

/** Returns undefined when delivered, else the last problem (the caller logs it; a webhook never fails a run). */
export async function sendWebhook(
  url: string,
  summary: RunSummary,
  attempts = 3,
): Promise<string | undefined> {
  let problem = '';
  for (let a = 1; a <= attempts; a++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'dqs' },
        body: JSON.stringify(summary),
        signal: AbortSignal.timeout(10000),
      });
      if (res.ok) return undefined;
      problem = `${res.status} ${res.statusText}`;
    } catch (e) {
      problem = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500 * a));
  }
  return problem;
}
