/** dqs kill, retry, pause and resume: acting on a running (or ended) run. */
import { formatJobRanges } from '@dqs/protocol';
import { SERVER_FLAGS, detached } from '../connection';
import { parseG2sArgs, singleString, switchFlag, UsageError } from '../g2s-args';
import { jobRange, help } from './common';
import { follow } from './status';

export const KILL_HELP = `dqs kill RUN [--server URL]: stop every chunk of a run
dqs kill RUN --jobs 1-6,15: stop only these chunks; the run goes on without them, and they stay parked until
  dqs retry RUN --jobs 1-6,15 resumes them (their neighbours wait for their cells meanwhile)
`;

export const RETRY_HELP = `dqs retry RUN [--jobs 1-6,15,20,25-30] [--server URL]
  running run: resumes the chunks killed with dqs kill RUN --jobs
  failed or cancelled run: enqueues its unfinished chunks again (or those of --jobs, with every unfinished
  neighbour); each goes on from its stream, so the result is the bytes of an uninterrupted run. Possible while
  the run's record is kept (DQS_RETENTION_SECONDS). It follows the run to its end and prints the run id
  (--submit-only: return at once; --json: the final status as JSON too).
`;

export const PAUSE_HELP = `dqs pause RUN / dqs resume RUN [--server URL]: pause a run (its chunks stop and free their CPU) and resume it; the result does not change\n`;

export function runPauseCommand(pause: boolean): (argv: string[]) => Promise<number> {
  return async (argv) => {
    const { flags, positional } = parseG2sArgs(argv, SERVER_FLAGS);
    if (switchFlag(flags, 'help')) return help(PAUSE_HELP);
    if (positional.length !== 1)
      throw new UsageError(`give one run id: dqs ${pause ? 'pause' : 'resume'} RUN`);
    const r = await detached(flags, pause ? 'pause' : 'resume').json<{ runId: string; state: string }>(
      'POST',
      `/v1/runs/${positional[0]}/${pause ? 'pause' : 'resume'}`,
    );
    process.stdout.write(`run ${r.runId}: ${r.state}\n`);
    return 0;
  };
}

export async function runKill(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, { ...SERVER_FLAGS, jobs: ['--jobs'] });
  if (switchFlag(flags, 'help')) return help(KILL_HELP);
  if (positional.length !== 1) throw new UsageError('give one run id: dqs kill RUN [--jobs RANGE]');
  const range = singleString(flags, 'jobs', '--jobs');
  if (range !== undefined) jobRange(range);
  const q = range === undefined ? '' : `?${new URLSearchParams({ jobs: range })}`;
  const r = await detached(flags, 'kill').json<{ runId: string; state: string; killed?: string[] }>(
    'POST',
    `/v1/runs/${positional[0]}/kill${q}`,
  );
  if (r.killed)
    process.stdout.write(
      `run ${r.runId}: ${r.state}; killed jobs ${formatJobRanges(r.killed.map(Number))} (dqs retry ${r.runId} --jobs ${formatJobRanges(r.killed.map(Number))} resumes them)\n`,
    );
  else process.stdout.write(`run ${r.runId}: ${r.state}\n`);
  return 0;
}

export async function runRetry(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    jobs: ['--jobs'],
    submitOnly: ['--submit-only'],
    json: ['--json'],
  });
  if (switchFlag(flags, 'help')) return help(RETRY_HELP);
  if (positional.length !== 1) throw new UsageError('give one run id: dqs retry RUN [--jobs RANGE]');
  const range = singleString(flags, 'jobs', '--jobs');
  if (range !== undefined) jobRange(range);
  const q = range === undefined ? '' : `?${new URLSearchParams({ jobs: range })}`;
  const c = detached(flags, 'retry');
  const r = await c.json<{ runId: string; state: string; retried: string[]; skipped: string[] }>(
    'POST',
    `/v1/runs/${positional[0]}/retry${q}`,
  );
  process.stderr.write(
    `run ${r.runId}: retrying jobs ${formatJobRanges(r.retried.map(Number))}` +
      (r.skipped.length
        ? ` (already written or not killed: ${formatJobRanges(r.skipped.map(Number))})`
        : '') +
      '\n',
  );
  if (switchFlag(flags, 'submitOnly', '--submit-only')) {
    process.stdout.write(`${r.runId}\n`);
    return 0;
  }
  const final = await follow(c, r.runId);
  if (switchFlag(flags, 'json', '--json')) process.stdout.write(JSON.stringify(final) + '\n');
  process.stdout.write(`${r.runId}\n`);
  return final.state === 'completed' ? 0 : 1;
}
