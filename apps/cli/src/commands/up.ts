/** `dqs up`: the coordinator, the results service and workers as local processes, until interrupted. */
import { resolveDataDirs } from '@dqs/store';
import { LocalStack } from '../local-stack';
import { parseG2sArgs, singleNumber, switchFlag, UsageError } from '../g2s-args';

export const UP_HELP = `dqs up [--workers N] [--slots S] [--threads T] [--port P]

Starts a dqs server on this machine: a private redis-server (unless REDIS_URL is set), the coordinator
(HTTP API, OpenAPI at /docs, Bull Board at /queues), the results service and N workers (default 1, with S
chunk slots each and T kernel threads per chunk). Runs until Ctrl-C. Data: G2S_DATA_DIR rules.

Durable: Redis keeps an append-only file in <data root>/redis, so unfinished runs go on after a restart of
Redis, of any service or of dqs up itself; a process that dies is started again. Its processes end with it
(even when it is killed); a busy port, or a data directory another dqs up uses, is refused before anything starts.
`;

export async function runUp(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    workers: ['--workers'],
    slots: ['--slots'],
    threads: ['--threads'],
    port: ['--port'],
    help: ['-h', '--help'],
  });
  if (switchFlag(flags, 'help')) {
    process.stdout.write(UP_HELP);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const int = (name: string, min: number) => {
    const v = singleNumber(flags, name, `--${name}`);
    if (v !== undefined && (!Number.isInteger(v) || v < min))
      throw new UsageError(`--${name} must be an integer >= ${min} (got ${v})`);
    return v;
  };
  const workers = int('workers', 0) ?? 1;
  const dirs = resolveDataDirs(process.env);
  const stack = new LocalStack({
    workers,
    slots: int('slots', 1),
    threads: int('threads', 1),
    port: int('port', 1) ?? 3000,
    redisUrl: process.env.REDIS_URL,
    dataDir: dirs.root,
    persist: true,
    restart: true,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const stop = async () => {
    process.stderr.write('\nstopping dqs...\n');
    await stack.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  try {
    await stack.start();
  } catch (e) {
    await stack.stop();
    // said here, on the terminal: a busy port, a data directory in use, a service that could not start
    process.stderr.write(`dqs up: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `dqs is up: ${stack.url}\n` +
      `  API ${stack.url}/v1   OpenAPI ${stack.url}/docs   Bull Board ${stack.url}/queues (user dqs, password ${stack.boardPassword})\n` +
      `  Redis ${stack.redisUrl}   data ${dirs.data}   logs ${dirs.logs}\n` +
      `  ${workers} worker(s); use it with: export DQS_URL=${stack.url}\n` +
      `${stack.url}\n`,
  );
  await new Promise(() => undefined);
  return 0;
}
