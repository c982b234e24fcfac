/** End-to-end harness: the real services as processes (the same entry points docker-compose runs). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack, SERVICE_ENTRY_POINTS, StackOptions } from '../../apps/cli/src/local-stack';
import { DqsClient } from '../../apps/cli/src/dqs-client';

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
