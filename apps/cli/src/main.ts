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

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  qs: { run: runQs, help: QS_HELP },
  stats: { run: runStats, help: STATS_HELP },
  demo: { run: runDemo, help: DEMO_HELP },
};

const USAGE = `dqs: Distributed QuickSampling (G2S's QS in TypeScript)

usage: dqs <command> [flags]

  qs      simulate with QuickSampling on this machine (G2S flags: -ti -di -dt -k -n -s -j ...)
  stats   compare a simulation with its training image (figures and a PNG report)
  demo    a complete example on images dqs makes itself

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

export async function main(argv: string[]): Promise<number> {
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
