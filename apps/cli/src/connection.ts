/**
 * Detached or attached. With --server URL (or DQS_URL) the CLI talks to that dqs server and never stops it.
 * Without one, the commands that can run attached start a private stack (a private redis-server, unless
 * REDIS_URL is set, the coordinator, the results service and workers) on the usual data directory, use it, and
 * stop it when they end; prepared inputs and archived outputs stay in the data directory for the next command.
 */
import { resolveDataDirs } from '@dqs/store';
import { DqsClient } from './dqs-client';
import { FlagValues, singleNumber, singleString, UsageError } from './g2s-args';
import { LocalStack } from './local-stack';

export const SERVER_FLAGS = { server: ['--server', '-sa'], token: ['--token'], help: ['-h', '--help'] };

export interface Connection {
  client: DqsClient;
  /** A private stack this command started (stopped by close()). */
  attached?: LocalStack;
  close(): Promise<void>;
}

/** The server given on the command line or in DQS_URL, if any. */
export function givenServer(flags: FlagValues): string | undefined {
  return singleString(flags, 'server', '--server') ?? (process.env.DQS_URL || undefined);
}

/** A client of the given server; a usage error naming what to do when there is none. */
export function detached(flags: FlagValues, command: string): DqsClient {
  const server = givenServer(flags);
  if (!server)
    throw new UsageError(
      `dqs ${command} needs a dqs server: give --server URL or set DQS_URL (dqs up starts one here). ` +
        'Without a server, dqs prep and dqs dm run attached on a private stack, and dqs fetch reads the archive of the data directory.',
    );
  return DqsClient.from(server, singleString(flags, 'token', '--token'));
}

/** The given server, or else a private stack started for this command (workers: --workers, default 2). */
export async function connect(flags: FlagValues, opts: { workers: number }): Promise<Connection> {
  const server = givenServer(flags);
  if (server) {
    const client = DqsClient.from(server, singleString(flags, 'token', '--token'));
    return { client, close: async () => undefined };
  }
  const workers = singleNumber(flags, 'workers', '--workers') ?? opts.workers;
  if (!Number.isInteger(workers) || workers < 0)
    throw new UsageError(`--workers must be an integer >= 0 (got ${workers})`);
  const dirs = resolveDataDirs(process.env);
  process.stderr.write(
    `no server given (--server or DQS_URL): running attached on a private dqs stack with ${workers} worker(s); ` +
      `data in ${dirs.data}, logs in ${dirs.logs}\n`,
  );
  const stack = new LocalStack({ workers, redisUrl: process.env.REDIS_URL, dataDir: dirs.root });
  const stop = () => void stack.stop().then(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await stack.start();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return {
    client: new DqsClient(stack.url, process.env.DQS_TOKEN),
    attached: stack,
    close: async () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await stack.stop();
    },
  };
}
