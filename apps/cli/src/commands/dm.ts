/** dqs dm: launch a distributed run (G2S's qs_dm), attached or against a server. */
import { readFileSync, existsSync } from 'node:fs';
import { scopeNameProblem } from '@dqs/protocol';
import { resolveDataDirs, runOutputDir } from '@dqs/store';
import { readGrid } from '@dqs/grids';
import { DqsClient } from '../dqs-client';
import { SERVER_FLAGS, connect, givenServer } from '../connection';
import {
  FlagValues,
  numberList,
  parseG2sArgs,
  singleNumber,
  singleString,
  switchFlag,
  UsageError,
} from '../g2s-args';
import { NAMESPACE_FLAG, namespaceOf, help } from './common';
import { prepOn } from './prep';
import { mergeConfig } from './run-file';
import { follow } from './status';

export const DM_HELP = `dqs dm: launch a distributed run (G2S's qs_dm)

  dqs dm --config run.yaml [flags that override it]       (dqs template writes a commented run.yaml;
                                                           its prep: section is registered first, as dqs prep)

  dqs dm -jg '[[101,102],[103,104]]' -dt 0 -k 1.2 -n 50 -j 0.5 -s 100 --submit-only [--server URL]

  -jg JSON|FILE        job grid (aliases -job_grid_json, -job_grid), laid out as the image: 102 right of 101,
                       103 below it; inline JSON or a local JSON file
  -eg JSON|FILE        endpoint grid (-endpoint_grid_json): checked and recorded; the exchange goes through Redis
  -di_grid_json JSON   DI identifiers per job (default input_di_<jobId>)
  -dt -k -n -s -j -ks -ki -cti --forceSimulation   QS flags, as in dqs qs (-j is per chunk)
  --submit-only        print the run id and return (otherwise wait, with progress, until it is done)
  --webhook URL        POST the run's summary there when it completes, fails or is cancelled
  --requires a,b       only workers with all these capabilities (DQS_CAPABILITIES) take the run's chunks;
                       while no live worker has them, dm says so; attached, it is refused unless this
                       machine's DQS_CAPABILITIES has them
  --namespace NS       where the job ids live (else DQS_NAMESPACE, else 'default'); --batch NAME groups runs
                       in the archive: outputs go to <data>/archive/<namespace>/<batch>/<run>/ (dqs fetch)

Without --server (or DQS_URL) it runs attached: a private stack (--workers N, default 2) on the data
directory runs the job and stops; the outputs stay in the archive (dqs fetch --run RUN -o DIR).
`;

function gridArg(flags: FlagValues, name: string, label: string): unknown {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const text = v.join(' ').trim();
  if (text === '') throw new UsageError(`${label} needs a value: inline JSON or a JSON file`);
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${label}: invalid JSON (${(e as Error).message})`);
    }
  }
  if (existsSync(text)) {
    try {
      return JSON.parse(readFileSync(text, 'utf8'));
    } catch (e) {
      throw new UsageError(`${label}: ${text} does not hold valid JSON (${(e as Error).message})`);
    }
  }
  // a path the server resolves inside its data directory
  return text;
}

export async function runDm(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    jg: ['-jg', '-job_grid_json', '-job_grid'],
    eg: ['-eg', '-endpoint_grid_json'],
    dig: ['-di_grid_json'],
    dt: ['-dt'],
    k: ['-k'],
    n: ['-n'],
    s: ['-s'],
    j: ['-j', '--jobs'],
    ks: ['-ks'],
    ki: ['-ki'],
    cti: ['-cti'],
    force: ['--forceSimulation', '-forceSimulation'],
    submitOnly: ['--submit-only', '-submitOnly'],
    json: ['--json'],
    config: ['--config'],
    webhook: ['--webhook'],
    requires: ['--requires'],
    ...NAMESPACE_FLAG,
    batch: ['--batch'],
    workers: ['--workers'],
  });
  if (switchFlag(flags, 'help')) return help(DM_HELP);
  const configFile = singleString(flags, 'config', '--config');
  const prep = configFile ? mergeConfig(flags, configFile) : [];
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const jg = gridArg(flags, 'jg', '-jg');
  if (jg === undefined)
    throw new UsageError('-jg is required: the job grid, e.g. -jg "[[101,102],[103,104]]"');
  const dt = numberList(flags, 'dt', '-dt');
  if (!dt) throw new UsageError('-dt is required (e.g. -dt 0)');
  const k = singleNumber(flags, 'k', '-k');
  if (k === undefined) throw new UsageError('-k is required (e.g. -k 1.2)');
  const n = numberList(flags, 'n', '-n');
  if (!n) throw new UsageError('-n is required (e.g. -n 50)');
  const namespace = namespaceOf(flags);
  const batch = singleString(flags, 'batch', '--batch');
  const batchProblem = batch === undefined ? undefined : scopeNameProblem('batch', batch);
  if (batchProblem) throw new UsageError(batchProblem);
  const submitOnly = switchFlag(flags, 'submitOnly', '--submit-only');
  if (submitOnly && !givenServer(flags))
    throw new UsageError(
      '--submit-only needs a server that outlives this command: give --server URL or DQS_URL (dqs up starts one)',
    );
  if (!givenServer(flags)) refuseUnmetRequirements(flags);
  // the run file's inputs are read before any server is started or called, so that a bad file costs nothing
  const prepared = prep.map((p) => ({ ...p, arrays: [...p.ti, p.di].map((f) => readGrid(f)) }));
  const conn = await connect(flags, { workers: 2 });
  try {
    for (const p of prepared) {
      const r = await prepOn(conn.client, { id: p.id, namespace, dt: p.dt ?? dt, arrays: p.arrays });
      process.stderr.write(`prepared job ${r.id} in namespace ${r.namespace}: ${r.names.join(', ')}\n`);
    }
    return await dmOn(conn.client, flags, { jg, dt, k, n, namespace, batch, submitOnly }, !!conn.attached);
  } finally {
    await conn.close();
  }
}

function requirementsOf(flags: FlagValues): string[] {
  return (
    flags
      .get('requires')
      ?.flatMap((v) => v.split(','))
      .map((t) => t.trim())
      .filter(Boolean) ?? []
  );
}

/**
 * Attached, the private stack's workers have this machine's DQS_CAPABILITIES (none by default): a run that requires
 * others would wait forever, so it is refused before anything starts.
 */
function refuseUnmetRequirements(flags: FlagValues): void {
  const required = requirementsOf(flags);
  const offered = (process.env.DQS_CAPABILITIES ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const missing = required.filter((t) => !offered.includes(t));
  if (missing.length)
    throw new UsageError(
      `--requires ${required.join(',')}: the private stack's workers would have ${offered.length ? `only the capabilities ${offered.join(',')}` : 'no capabilities'} ` +
        `(DQS_CAPABILITIES), so no worker could take the run's chunks. Give --server URL of a fleet with workers that have ${missing.join(',')}, ` +
        `or, if this machine has them, set DQS_CAPABILITIES=${[...new Set([...offered, ...missing])].join(',')}`,
    );
}

async function dmOn(
  c: DqsClient,
  flags: FlagValues,
  given: {
    jg: unknown;
    dt: number[];
    k: number;
    n: number[];
    namespace: string;
    batch?: string;
    submitOnly: boolean;
  },
  attached: boolean,
): Promise<number> {
  const { jg, dt, k, n, namespace, batch } = given;
  const kiFile = singleString(flags, 'ki', '-ki');
  const body = {
    jg,
    eg: gridArg(flags, 'eg', '-eg'),
    di_grid_json: gridArg(flags, 'dig', '-di_grid_json'),
    dt,
    k,
    n,
    s: singleNumber(flags, 's', '-s'),
    j: singleNumber(flags, 'j', '-j'),
    ks: numberList(flags, 'ks', '-ks'),
    ki: kiFile ? await c.uploadArray(readGrid(kiFile)) : undefined,
    cti: switchFlag(flags, 'cti', '-cti') || undefined,
    forceSimulation: switchFlag(flags, 'force', '--forceSimulation') || undefined,
    webhook: singleString(flags, 'webhook', '--webhook'),
    requires: requirementsOf(flags).length ? requirementsOf(flags) : undefined,
    namespace,
    batch,
  };
  const run = await c.json<{
    runId: string;
    jobIds: string[];
    seed: number;
    namespace: string;
    batch: string;
  }>('POST', '/v1/runs', body);
  if (given.submitOnly) {
    process.stdout.write(`${run.runId}\n`);
    return 0;
  }
  process.stderr.write(
    `run ${run.runId} (namespace ${run.namespace}, batch ${run.batch}): ${run.jobIds.length} chunks, seed ${run.seed}\n`,
  );
  const final = await follow(c, run.runId);
  if (attached) {
    const dir = runOutputDir(resolveDataDirs(process.env).data, run);
    process.stderr.write(
      `outputs archived in ${dir}\n(dqs fetch --run ${run.runId} -o DIR copies them; the private stack stops now)\n`,
    );
  }
  if (switchFlag(flags, 'json', '--json')) process.stdout.write(JSON.stringify(final) + '\n');
  process.stdout.write(`${run.runId}\n`);
  return final.state === 'completed' ? 0 : 1;
}
