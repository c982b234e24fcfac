/** dqs logs: each chunk's log. */
import { SERVER_FLAGS, detached } from '../connection';
import { parseG2sArgs, singleString, switchFlag, UsageError } from '../g2s-args';
import { jobRange, help } from './common';
import type { Status } from './status';

export const LOGS_HELP = `dqs logs RUN [--jobs 1-6,15] [--server URL]: each chunk's log (worker, blocked, back to the queue, completion, errors)\n`;

export async function runLogs(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, { ...SERVER_FLAGS, jobs: ['--jobs'] });
  if (switchFlag(flags, 'help')) return help(LOGS_HELP);
  if (positional.length !== 1) throw new UsageError('give one run id: dqs logs RUN [--jobs RANGE]');
  const c = detached(flags, 'logs');
  const s = await c.json<Status>('GET', `/v1/runs/${positional[0]}`);
  const range = singleString(flags, 'jobs', '--jobs');
  const wanted = range ? new Set(jobRange(range).map(String)) : undefined;
  const jobs = s.chunks.map((ch) => ch.jobId).filter((id) => !wanted || wanted.has(id));
  if (jobs.length === 0) throw new UsageError(`--jobs ${range}: run ${s.runId} has none of these jobs`);
  for (const jobId of jobs) {
    const l = await c.json<{ lines: string[] }>('GET', `/v1/runs/${s.runId}/chunks/${jobId}/log`);
    process.stdout.write(`== job ${jobId}\n${l.lines.join('\n')}${l.lines.length ? '\n' : ''}`);
  }
  return 0;
}
