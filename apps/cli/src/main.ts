#!/usr/bin/env node
/** `dqs`: the command line of dqs. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GridFileError } from '@dqs/grids';
import { QsCancelledError, QsInputError } from '@dqs/qs';
import { UsageError } from './g2s-args';
import { DqsServerError } from './dqs-client';

type CommandRun = (argv: string[]) => Promise<number>;

/** Each command's module is loaded only when that command runs: `dqs qs` stays small (no server clients). */
const COMMANDS: Record<string, () => Promise<CommandRun>> = {
  qs: async () => (await import('./commands/qs.js')).runQs,
  stats: async () => (await import('./commands/stats.js')).runStats,
  demo: async () => (await import('./commands/demo.js')).runDemo,
  up: async () => (await import('./commands/up.js')).runUp,
  prep: async () => (await import('./commands/prep.js')).runPrep,
  dm: async () => (await import('./commands/dm.js')).runDm,
  status: async () => (await import('./commands/status.js')).runStatus,
  download: async () => (await import('./commands/download.js')).runDownload,
  kill: async () => (await import('./commands/control.js')).runKill,
  pause: async () => (await import('./commands/control.js')).runPauseCommand(true),
  resume: async () => (await import('./commands/control.js')).runPauseCommand(false),
  workers: async () => (await import('./commands/workers.js')).runWorkers,
  template: async () => (await import('./commands/run-file.js')).runTemplate,
  logs: async () => (await import('./commands/logs.js')).runLogs,
  mosaic: async () => (await import('./commands/download.js')).runMosaic,
  retry: async () => (await import('./commands/control.js')).runRetry,
  fetch: async () => (await import('./commands/fetch.js')).runFetch,
  slurm: async () => (await import('./commands/slurm.js')).runSlurm,
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
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`dqs: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (
      await load()
    )(rest);
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
