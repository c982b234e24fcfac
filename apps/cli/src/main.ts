#!/usr/bin/env node
/** `dqs`: the command line of dqs. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GridFileError } from '@dqs/grids';
import { QsCancelledError, QsInputError } from '@dqs/qs';
import { UsageError } from './g2s-args';
import { QS_HELP, runQs } from './commands/qs';
import { STATS_HELP, runStats } from './commands/stats';
import { DEMO_HELP, runDemo } from './commands/demo';
import { PREP_HELP, runPrep } from './commands/prep';
import { DM_HELP, runDm } from './commands/dm';
import { STATUS_HELP, runStatus } from './commands/status';
import { DOWNLOAD_HELP, MOSAIC_HELP, runDownload, runMosaic } from './commands/download';
import { KILL_HELP, PAUSE_HELP, RETRY_HELP, runKill, runPauseCommand, runRetry } from './commands/control';
import { WORKERS_HELP, runWorkers } from './commands/workers';
import { LOGS_HELP, runLogs } from './commands/logs';
import { TEMPLATE_HELP, runTemplate } from './commands/run-file';
import { UP_HELP, runUp } from './commands/up';
import { FETCH_HELP, runFetch } from './commands/fetch';
import { SLURM_HELP, runSlurm } from './commands/slurm';
import { DqsServerError } from './dqs-client';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  qs: { run: runQs, help: QS_HELP },
  stats: { run: runStats, help: STATS_HELP },
  demo: { run: runDemo, help: DEMO_HELP },
  up: { run: runUp, help: UP_HELP },
  prep: { run: runPrep, help: PREP_HELP },
  dm: { run: runDm, help: DM_HELP },
  status: { run: runStatus, help: STATUS_HELP },
  download: { run: runDownload, help: DOWNLOAD_HELP },
  kill: { run: runKill, help: KILL_HELP },
  pause: { run: runPauseCommand(true), help: PAUSE_HELP },
  resume: { run: runPauseCommand(false), help: PAUSE_HELP },
  workers: { run: runWorkers, help: WORKERS_HELP },
  template: { run: runTemplate, help: TEMPLATE_HELP },
  logs: { run: runLogs, help: LOGS_HELP },
  mosaic: { run: runMosaic, help: MOSAIC_HELP },
  retry: { run: runRetry, help: RETRY_HELP },
  fetch: { run: runFetch, help: FETCH_HELP },
  slurm: { run: runSlurm, help: SLURM_HELP },
};

const USAGE = `dqs: Distributed QuickSampling (G2S's QS in TypeScript)

usage: dqs <command> [flags]

  qs      simulate with QuickSampling on this machine (G2S flags: -ti -di -dt -k -n -s -j ...)
  stats   compare a simulation with its training image (figures and a PNG report)
  demo    the distributed example of G2S's documentation, end to end, on images dqs makes itself

  up        start a dqs server here (redis, coordinator, results, workers)
  prep      register a job's inputs (qs_prep)          dm      launch a distributed run (qs_dm)
  status    a run's progress and chunks; the runs       kill    stop a run, or some chunks (--jobs 3-5)
  retry     resume killed chunks, or a failed run       pause   pause a run (resume: go on; same result)
  workers   the live workers; pause or resume one       logs    each chunk's log (--jobs 1-6,15)
  template  a commented run file for dm --config       fetch   archived outputs by namespace, batch, jobs, date
  download  a chunk's result (waits until written)      mosaic  a run's assembled result
  (these take --server URL, or DQS_URL. Without a server, prep and dm run attached on a private stack that
   stops when they end, and fetch reads this machine's archive; --namespace NS or DQS_NAMESPACE scopes job ids)
  slurm     a run file on a Slurm allocation: writes (--submit: submits) an sbatch script (qs_dm_slurm)

dqs <command> --help tells more.
`;

/** The version in package.json, found by walking up from this file (source and build trees differ in depth). */
function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dqs') return pkg.version ?? 'unknown';
    }
  }
  return 'unknown';
}

/** Output piped into a reader that stops early (dqs status | head) ends dqs quietly, as other tools do. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr])
    if (stream.listenerCount('error') === 0)
      stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(0);
        throw e;
      });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`dqs: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof DqsServerError) {
      process.stderr.write(`dqs ${name}: ${e.status ? `the server said (${e.status}): ` : ''}${e.message}\n`);
      return e.status >= 400 && e.status < 500 ? 2 : 1;
    }
    if (e instanceof UsageError || e instanceof QsInputError || e instanceof GridFileError) {
      process.stderr.write(`dqs ${name}: error: ${e.message}\n(see dqs ${name} --help)\n`);
      return 2;
    }
    if (e instanceof QsCancelledError) {
      process.stderr.write(`dqs ${name}: ${e.message}\n`);
      return 130;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`dqs: unexpected failure: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
