/** End-to-end harness: the real services as processes (the same entry points docker-compose runs). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack, SERVICE_ENTRY_POINTS, StackOptions } from '../../apps/cli/src/local-stack';
import { DqsClient } from '../../apps/cli/src/dqs-client';
import type { NdArray } from '@dqs/grids';

export { SERVICE_ENTRY_POINTS, LocalStack };

export interface TestStack {
  stack: LocalStack;
  client: DqsClient;
  dataDir: string;
}

/** A stack on a fresh data directory with its own redis-server; short lock and stall timings for crash tests. */
export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dqs-e2e-'));
  const stack = new LocalStack({
    workers: 1,
    dataDir,
    ...options,
    env: { DQS_LOCK_DURATION_MS: '4000', DQS_STALLED_INTERVAL_MS: '2000', ...options.env },
  });
  try {
    await stack.start();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return { stack, client: new DqsClient(stack.url), dataDir: join(dataDir, 'data') };
}

/** A float32 array for uploads. */
export const nd = (shape: number[], data: Float32Array): NdArray => ({ shape, dtype: 'float32', data });

/** Polls a run's status until it reaches one of the states (by default, it has ended). */
export async function waitForRun<S extends { state: string; progress: number }>(
  client: DqsClient,
  runId: string,
  opts: { until?: string[]; timeoutMs?: number } = {},
): Promise<S> {
  const until = opts.until ?? ['completed', 'failed', 'cancelled'];
  const timeoutMs = opts.timeoutMs ?? 120000;
  const t0 = Date.now();
  for (;;) {
    const s = await client.json<S>('GET', `/v1/runs/${runId}`);
    if (until.includes(s.state)) return s;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`run ${runId} still ${s.state} (${s.progress}%) after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A run's mosaic as NPY bytes, once it is written. */
export async function mosaicOf(client: DqsClient, runId: string): Promise<Buffer> {
  return Buffer.from(await client.bytes(`/v1/runs/${runId}/mosaic?wait=true`));
}
