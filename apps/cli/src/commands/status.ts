/** dqs status: a run's state and chunks, or the list of runs; following a run to its end. */
import { DqsClient } from '../dqs-client';
import { SERVER_FLAGS, detached } from '../connection';
import { parseG2sArgs, singleString, switchFlag, UsageError } from '../g2s-args';
import { progressBar } from '../progress';
import { jobRange, help } from './common';

export const STATUS_HELP = `dqs status RUN [--jobs RANGE] [--json] [--server URL]: state, progress (0-100) and each chunk's state
  --jobs 1-6,15,20,25-30   only these jobs
dqs status [--namespace NS] [--batch NAME] [--json]: the recent runs (of a namespace, of a batch)
`;

interface RunListEntry {
  runId: string;
  namespace: string;
  batch: string;
  state: string;
  progress: number;
  createdAt: string;
  jobs: number;
}

export async function runStatus(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    json: ['--json'],
    jobs: ['--jobs'],
    namespace: ['--namespace', '-ns'],
    batch: ['--batch'],
  });
  if (switchFlag(flags, 'help')) return help(STATUS_HELP);
  const c = detached(flags, 'status');
  if (positional.length === 0) {
    const q = new URLSearchParams();
    const ns = singleString(flags, 'namespace', '--namespace');
    const batch = singleString(flags, 'batch', '--batch');
    if (ns) q.set('namespace', ns);
    if (batch) q.set('batch', batch);
    const list = await c.json<RunListEntry[]>('GET', `/v1/runs?${q}`);
    if (switchFlag(flags, 'json', '--json')) {
      process.stdout.write(JSON.stringify(list) + '\n');
      return 0;
    }
    if (list.length === 0) process.stdout.write('no run\n');
    for (const r of list)
      process.stdout.write(
        `${r.runId}  ${r.namespace}/${r.batch}  ${r.state.padEnd(9)} ${r.progress.toFixed(1).padStart(5)}%  ${r.jobs} chunks  ${r.createdAt}\n`,
      );
    return 0;
  }
  if (positional.length !== 1) throw new UsageError('give one run id: dqs status RUN (or none: the runs)');
  if (flags.has('namespace') || flags.has('batch'))
    throw new UsageError('--namespace and --batch filter the list of runs: give them without a run id');
  const s = await c.json<Status>('GET', `/v1/runs/${positional[0]}`);
  const range = singleString(flags, 'jobs', '--jobs');
  if (range) {
    const wanted = new Set(jobRange(range).map(String));
    const unknown = [...wanted].filter((id) => !s.chunks.some((c) => c.jobId === id));
    if (unknown.length === wanted.size)
      throw new UsageError(
        `--jobs ${range}: run ${s.runId} has none of these jobs (its jobs: ${s.chunks.map((c) => c.jobId).join(', ')})`,
      );
    s.chunks = s.chunks.filter((c) => wanted.has(c.jobId));
    if (!switchFlag(flags, 'json', '--json')) {
      process.stdout.write(`run ${s.runId}: ${s.state}, ${s.progress.toFixed(1)}% overall\n`);
      for (const c of s.chunks)
        process.stdout.write(`${c.jobId}: ${c.state} ${c.progress}%${c.error ? ` (${c.error})` : ''}\n`);
      return 0;
    }
  }
  if (switchFlag(flags, 'json', '--json')) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  process.stdout.write(
    `run ${s.runId}: ${s.state}, ${s.progress.toFixed(1)}%${s.error ? ` (${s.error})` : ''}\n`,
  );
  process.stdout.write(drawGrid(s, process.stdout.isTTY) + '\n');
  if (s.waitingFor) process.stdout.write(`waiting: ${s.waitingFor}\n`);
  for (const ch of s.chunks) if (ch.error) process.stdout.write(`chunk ${ch.jobId}: ${ch.error}\n`);
  return 0;
}

export interface Status {
  runId: string;
  state: string;
  progress: number;
  error?: string;
  waitingFor?: string;
  gridShape: number[];
  chunks: { jobId: string; state: string; progress: number; error?: string }[];
}

/** The job grid as text, laid out as the image: each tile with its job id, state and progress. */
export function drawGrid(s: Status, colour = false): string {
  const cols = s.gridShape[s.gridShape.length - 1];
  const paint = (state: string, text: string) => {
    if (!colour) return text;
    const code =
      state === 'durable'
        ? 32
        : state === 'failed'
          ? 31
          : state === 'blocked' || state === 'paused'
            ? 33
            : state === 'cancelled'
              ? 90
              : 36;
    return `\x1b[${code}m${text}\x1b[0m`;
  };
  const cell = (c: Status['chunks'][number]) => {
    const filled = Math.round(c.progress / 12.5);
    const bar = '#'.repeat(filled) + '.'.repeat(8 - filled);
    const label = c.state === 'durable' ? 'done' : c.state;
    return paint(
      c.state,
      `${c.jobId.padStart(5)} [${bar}] ${String(c.progress).padStart(3)}% ${label.padEnd(9)}`,
    );
  };
  const rows: string[] = [];
  for (let i = 0; i < s.chunks.length; i += cols)
    rows.push(
      s.chunks
        .slice(i, i + cols)
        .map(cell)
        .join(' '),
    );
  return rows.join('\n');
}

/** Follows a run until it ends: on a terminal its job grid, redrawn each second; otherwise a line every 10 %. */
export async function follow(c: DqsClient, runId: string, quiet = false): Promise<Status> {
  const tty = !quiet && process.stderr.isTTY;
  const bar = progressBar(`run ${runId}`, quiet || tty, { unit: '1/100 %' });
  let drawn = 0;
  let waiting: string | undefined;
  try {
    for (;;) {
      const s = await c.json<Status>('GET', `/v1/runs/${runId}`);
      // why it does not move (no live worker has the capabilities it requires, parked chunks): said once, when it changes
      if (!quiet && s.waitingFor !== waiting && !tty) {
        if (s.waitingFor) process.stderr.write(`run ${runId} waits: ${s.waitingFor}\n`);
        else if (waiting) process.stderr.write(`run ${runId} goes on\n`);
      }
      waiting = s.waitingFor;
      bar.update(Math.round(s.progress * 100), 10000);
      if (tty) {
        const text =
          `run ${runId}: ${s.state} ${s.progress.toFixed(1)}%\n${drawGrid(s, true)}\n` +
          (s.waitingFor ? `waiting: ${s.waitingFor}\n` : '');
        if (drawn) process.stderr.write(`\x1b[${drawn}A\x1b[J`);
        process.stderr.write(text);
        drawn = text.split('\n').length - 1;
      }
      if (s.state === 'completed' || s.state === 'failed' || s.state === 'cancelled') {
        bar.stop();
        if (s.state === 'failed') process.stderr.write(`run ${runId} failed: ${s.error}\n`);
        if (s.state === 'cancelled') process.stderr.write(`run ${runId} was cancelled\n`);
        return s;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    bar.stop();
  }
}
