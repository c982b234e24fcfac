/** dqs workers: the live workers; pausing and resuming one. */
import type { WorkerInfo } from '@dqs/store';
import { SERVER_FLAGS, detached } from '../connection';
import { parseG2sArgs, switchFlag, UsageError } from '../g2s-args';
import { help } from './common';

export const WORKERS_HELP = `dqs workers [--json] [--server URL]: the live workers (slots, threads, capabilities, chunks)
dqs workers pause NAME / dqs workers resume NAME: a paused worker takes no new chunk and hands its chunks back to the queue (they stop at a cell boundary and go on elsewhere, with the same result)
`;

export async function runWorkers(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, { ...SERVER_FLAGS, json: ['--json'] });
  if (switchFlag(flags, 'help')) return help(WORKERS_HELP);
  const c = detached(flags, 'workers');
  if (positional.length > 0) {
    const [action, name] = positional;
    if ((action !== 'pause' && action !== 'resume') || !name || positional.length !== 2) {
      throw new UsageError('use: dqs workers, dqs workers pause NAME, or dqs workers resume NAME');
    }
    const r = await c.json<{ name: string; paused: boolean }>(
      'POST',
      `/v1/workers/${encodeURIComponent(name)}/${action}`,
    );
    process.stdout.write(`worker ${r.name}: ${r.paused ? 'paused' : 'running'}\n`);
    return 0;
  }
  const list = await c.json<WorkerInfo[]>('GET', '/v1/workers');
  if (switchFlag(flags, 'json', '--json')) {
    process.stdout.write(JSON.stringify(list) + '\n');
    return 0;
  }
  if (list.length === 0)
    process.stdout.write(
      'no live worker (start some with dqs up --workers N, or docker compose up --scale worker=N)\n',
    );
  for (const w of list) {
    const chunks = w.chunks
      .map(
        (ch) =>
          `${ch.jobId}@${ch.runId} ${ch.state} ${ch.total ? Math.floor((100 * ch.done) / ch.total) : 0}%`,
      )
      .join(', ');
    process.stdout.write(
      `${w.name}: ${w.paused ? 'PAUSED' : 'running'}, ${w.slots} slot(s) x ${w.threads || "the run's -j"} thread(s)` +
        `${w.capabilities.length ? `, capabilities ${w.capabilities.join(',')}` : ''}; ${chunks || 'idle'}\n`,
    );
  }
  return 0;
}
