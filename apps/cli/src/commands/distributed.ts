/** The G2S distributed workflow against a dqs server: prep, dm, status, download, kill, mosaic. */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { DEFAULT_NAMESPACE, formatJobRanges, parseJobRanges, scopeNameProblem } from '@dqs/protocol';
import { resolveDataDirs, runOutputDir } from '@dqs/store';
import type { WorkerInfo } from '@dqs/store';
import { parse as parseYaml } from 'yaml';
import { readGrid, writeFileAtomic } from '@dqs/grids';
import { DqsClient } from '../dqs-client';
import { SERVER_FLAGS, connect, detached, givenServer } from '../connection';
import {
  FlagValues,
  numberList,
  parseG2sArgs,
  singleNumber,
  singleString,
  switchFlag,
  UsageError,
} from '../g2s-args';
import { progressBar } from '../progress';

const NAMESPACE_FLAG = { namespace: ['--namespace', '-ns'] };

/** --namespace, else DQS_NAMESPACE, else the default namespace. */
function namespaceOf(flags: FlagValues): string {
  const ns =
    singleString(flags, 'namespace', '--namespace') ?? (process.env.DQS_NAMESPACE || DEFAULT_NAMESPACE);
  const problem = scopeNameProblem('namespace', ns);
  if (problem) throw new UsageError(problem);
  return ns;
}

export const PREP_HELP = `dqs prep: register a job's inputs (G2S's qs_prep)

  dqs prep --id 101 -ti ti.tiff [more TIs] -di di.npy -dt 0 [--namespace NS] [--server URL]

Uploads the arrays once (by sha256) and names them input_ti_<k>_<id> and input_di_<id> in the namespace
(--namespace, else DQS_NAMESPACE, else 'default'): two users' job 101 never collide.
Without --server (or DQS_URL) it runs attached: a private stack on the data directory, stopped at the end.
`;

export async function runPrep(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    ...NAMESPACE_FLAG,
    id: ['--id', '-id'],
    ti: ['-ti'],
    di: ['-di'],
    dt: ['-dt'],
  });
  if (switchFlag(flags, 'help')) return help(PREP_HELP);
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const id = singleString(flags, 'id', '--id');
  if (!id || !/^\d+$/.test(id)) throw new UsageError('--id is required: the job id, a non-negative integer');
  const dt = numberList(flags, 'dt', '-dt');
  if (!dt) throw new UsageError('-dt is required: one type per variable (0 = continuous, 1 = categorical)');
  const tiFiles = flags.get('ti');
  if (!tiFiles?.length) throw new UsageError('-ti is required: one or more training image files');
  const diFile = singleString(flags, 'di', '-di');
  if (!diFile) throw new UsageError('-di is required: the destination image file of this job');
  const namespace = namespaceOf(flags);
  const files = [...tiFiles, diFile];
  const arrays = files.map((f) => readGrid(f));
  const conn = await connect(flags, { workers: 0 });
  try {
    const r = await prepOn(conn.client, { id, namespace, dt, arrays });
    process.stdout.write(`prepared job ${r.id} in namespace ${r.namespace}: ${r.names.join(', ')}\n`);
    return 0;
  } finally {
    await conn.close();
  }
}

/** Uploads a job's arrays once (by sha256) and registers them as input_ti_<k>_<id> and input_di_<id>. */
async function prepOn(
  c: DqsClient,
  job: { id: string; namespace: string; dt: number[]; arrays: ReturnType<typeof readGrid>[] },
): Promise<{ id: string; namespace: string; names: string[] }> {
  const { id, namespace, dt, arrays } = job;
  const bar = progressBar(`upload job ${id}`, false, { unit: 'arrays', terminalOnly: true });
  const shas: string[] = [];
  try {
    for (const [k, a] of arrays.entries()) {
      bar.update(k, arrays.length);
      shas.push(await c.uploadArray(a));
    }
    bar.update(arrays.length, arrays.length);
  } finally {
    bar.stop();
  }
  const di = shas.pop()!;
  const ti = shas;
  return c.json<{ id: string; namespace: string; names: string[] }>('POST', '/v1/prep', {
    id,
    ti,
    di,
    dt,
    namespace,
  });
}

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
  --requires a,b       only workers with all these capabilities (DQS_CAPABILITIES) take the run's chunks
  --namespace NS       where the job ids live (else DQS_NAMESPACE, else 'default'); --batch NAME groups runs
                       in the archive: outputs go to <data>/archive/<namespace>/<batch>/<run>/ (dqs fetch)

Without --server (or DQS_URL) it runs attached: a private stack (--workers N, default 2) on the data
directory runs the job and stops; the outputs stay in the archive (dqs fetch --run RUN -o DIR).
`;

/** Keys of a run file and the flags they stand for. */
const CONFIG_KEYS: Record<string, string> = {
  jg: 'jg',
  eg: 'eg',
  di_grid_json: 'dig',
  dt: 'dt',
  k: 'k',
  n: 'n',
  s: 's',
  j: 'j',
  ks: 'ks',
  ki: 'ki',
  cti: 'cti',
  forceSimulation: 'force',
  webhook: 'webhook',
  requires: 'requires',
  namespace: 'namespace',
  batch: 'batch',
  server: 'server',
};

/** A job's inputs listed in a run file's prep section (registered by dm --config before the run). */
export interface RunFilePrep {
  id: string;
  ti: string[];
  di: string;
  dt?: number[];
}

/** A run file (YAML): its fields as flags, and its prep section with paths resolved against the file's folder. */
export function readRunFile(file: string): { flags: FlagValues; prep: RunFilePrep[] } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config ${file}: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`--config ${file}: a run file is a YAML mapping (see dqs template)`);
  const flags: FlagValues = new Map();
  let prep: RunFilePrep[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'prep') {
      prep = prepSection(file, value);
      continue;
    }
    const flag = CONFIG_KEYS[key];
    if (!flag)
      throw new UsageError(
        `--config ${file}: unknown field '${key}'; known fields: ${[...Object.keys(CONFIG_KEYS), 'prep'].join(', ')}`,
      );
    if (value === null || value === undefined || value === false) continue;
    if (value === true) flags.set(flag, []);
    else if (flag === 'jg' || flag === 'eg' || flag === 'dig')
      flags.set(flag, [typeof value === 'string' ? value : JSON.stringify(value)]);
    else if (Array.isArray(value)) flags.set(flag, value.map(String));
    else flags.set(flag, [String(value)]);
  }
  return { flags, prep };
}

function prepSection(file: string, value: unknown): RunFilePrep[] {
  if (value === null || value === undefined) return [];
  const bad = (what: string) =>
    new UsageError(`--config ${file}: prep: ${what} (e.g. prep: [{id: 101, ti: [ti.npy], di: di.npy}])`);
  if (!Array.isArray(value)) throw bad('a list of jobs, each with id, ti and di');
  const base = dirname(resolve(file));
  return value.map((entry: unknown, k) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry))
      throw bad(`entry ${k + 1} is not a mapping`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((key) => !['id', 'ti', 'di', 'dt'].includes(key));
    if (unknown.length) throw bad(`entry ${k + 1}: unknown field '${unknown[0]}' (known: id, ti, di, dt)`);
    const id = String(e.id ?? '');
    if (!/^\d+$/.test(id)) throw bad(`entry ${k + 1}: id must be a job id, a non-negative integer`);
    const ti = (Array.isArray(e.ti) ? e.ti : [e.ti]).filter((t) => t !== undefined && t !== null);
    if (ti.length === 0 || !ti.every((t) => typeof t === 'string' && t !== ''))
      throw bad(`job ${id}: ti must be one training image file or a list of them`);
    if (typeof e.di !== 'string' || e.di === '')
      throw bad(`job ${id}: di must be the destination image file`);
    let dt: number[] | undefined;
    if (e.dt !== undefined && e.dt !== null) {
      dt = (Array.isArray(e.dt) ? e.dt : [e.dt]).map(Number);
      if (dt.length === 0 || dt.some((x) => !Number.isFinite(x))) throw bad(`job ${id}: dt must be numbers`);
    }
    const at = (f: string) => resolve(base, f);
    return { id, ti: (ti as string[]).map(at), di: at(e.di), dt };
  });
}

/** Fills the flags the command line did not give from a run file (YAML); returns its prep section. */
function mergeConfig(flags: FlagValues, file: string): RunFilePrep[] {
  const config = readRunFile(file);
  for (const [flag, value] of config.flags) if (!flags.has(flag)) flags.set(flag, value);
  return config.prep;
}

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

export const TEMPLATE_HELP = `dqs template [-o run.yaml]: a commented run file with every field, for dqs dm --config run.yaml\n`;

export const RUN_TEMPLATE = `# dqs run file: dqs dm --config run.yaml (flags on the command line override these fields)
# The job grid, laid out as the image: 102 is right of 101, 103 below it. Each job must be prepared first:
#   dqs prep --id 101 -ti ti.tiff -di di.npy -dt 0
jg: [[101, 102], [103, 104]]
# Endpoint grid (recorded and checked; the exchange goes through Redis) and DI identifiers (default input_di_<id>)
eg: null
di_grid_json: null
# Variable types, one per variable: 0 = continuous, 1 = categorical
dt: [0]
# Number of best candidates (a real number >= 1; 1.2 takes the 2nd best one time in six)
k: 1.2
# Closest informed neighbours (the simulated cell counts as one), one value or one per variable
n: [50]
# Base seed: job r (row-major position) uses seed + r
s: 100
# Threads per chunk: an integer, or a fraction of a worker's cores
j: 0.5
# Size of the default uniform kernel (default: TI size / 2 + 1), or a kernel file (-ki)
ks: null
ki: null
# Periodic training images; re-simulate cells that hold values
cti: false
forceSimulation: false
# A URL told (POST, JSON) when the run completes, fails or is cancelled
webhook: null
# Capabilities a worker needs (all of them) to take this run's chunks, e.g. [avx2, highmem]
requires: null
# Namespace of the job ids (default: DQS_NAMESPACE, else 'default') and batch (groups runs in the archive:
# <data>/archive/<namespace>/<batch>/<run>/; dqs fetch --batch NAME)
namespace: null
batch: null
# The dqs server (default: DQS_URL; with neither, dm runs attached on a private stack and stops it at the end)
server: null
# Inputs dm registers first, as dqs prep does (paths relative to this file; dt defaults to the run's dt), e.g.
#   prep:
#     - {id: 101, ti: [ti_101.tiff], di: di_101.npy}
#     - {id: 102, ti: [ti_102.tiff], di: di_102.npy, dt: [0]}
prep: null
`;

export async function runTemplate(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, { o: ['-o', '--output'], help: ['-h', '--help'] });
  if (switchFlag(flags, 'help')) return help(TEMPLATE_HELP);
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const out = singleString(flags, 'o', '-o');
  if (out) {
    writeFileAtomic(out, new TextEncoder().encode(RUN_TEMPLATE));
    process.stdout.write(`wrote ${out}; edit it, then: dqs dm --config ${out}\n`);
  } else process.stdout.write(RUN_TEMPLATE);
  return 0;
}

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
    requires: flags
      .get('requires')
      ?.flatMap((v) => v.split(','))
      .filter(Boolean),
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

interface Status {
  runId: string;
  state: string;
  progress: number;
  error?: string;
  waitingFor?: string;
  gridShape: number[];
  chunks: { jobId: string; state: string; progress: number; error?: string }[];
}

/** Follows a run until it ends: on a terminal its job grid, redrawn each second; otherwise a line every 10 %. */
export async function follow(c: DqsClient, runId: string, quiet = false): Promise<Status> {
  const tty = !quiet && process.stderr.isTTY;
  const bar = progressBar(`run ${runId}`, quiet || tty, { unit: '1/100 %' });
  let drawn = 0;
  try {
    for (;;) {
      const s = await c.json<Status>('GET', `/v1/runs/${runId}`);
      bar.update(Math.round(s.progress * 100), 10000);
      if (tty) {
        const text = `run ${runId}: ${s.state} ${s.progress.toFixed(1)}%\n${drawGrid(s, true)}\n`;
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

function formatOf(file: string, given: string | undefined): string {
  if (given) return given;
  const ext = extname(file).toLowerCase().slice(1);
  if (['npy', 'tiff', 'tif', 'png', 'json'].includes(ext)) return ext === 'tif' ? 'tiff' : ext;
  throw new UsageError(`-o ${file}: give a .npy, .tiff, .png or .json file (or --format)`);
}

export const DOWNLOAD_HELP = `dqs download ID -o FILE.npy [--run RUN] [--index] [--format npy|tiff|png|json] [--namespace NS] [--server URL]
dqs download 1-6,15 -o FOLDER [--format npy]          several jobs: FOLDER/chunk_<id>.<format>

Waits until each chunk is written (G2S's -waitAndDownload), then saves it. Without --run: the latest run with
that job in the namespace (--namespace, else DQS_NAMESPACE, else 'default'). dqs fetch reads the archive.
`;

export async function runDownload(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    o: ['-o', '--output'],
    run: ['--run'],
    index: ['--index'],
    format: ['--format'],
    timeout: ['--timeout'],
    ...NAMESPACE_FLAG,
  });
  if (switchFlag(flags, 'help')) return help(DOWNLOAD_HELP);
  if (positional.length !== 1) {
    throw new UsageError(
      'give a job id or a range: dqs download 101 -o FILE.npy, or dqs download 101-104 -o FOLDER',
    );
  }
  const ids = jobRange(positional[0]);
  const out = singleString(flags, 'o', '-o');
  if (!out)
    throw new UsageError(
      '-o FILE (one job: .npy, .tiff, .png or .json) or -o FOLDER (several jobs) is required',
    );
  const index = switchFlag(flags, 'index', '--index');
  const run = singleString(flags, 'run', '--run');
  const timeout = singleNumber(flags, 'timeout', '--timeout') ?? 86400;
  const namespace = namespaceOf(flags);
  const c = detached(flags, 'download');
  const several = ids.length > 1;
  for (const id of ids) {
    const given = singleString(flags, 'format', '--format');
    const format = several ? (given ?? 'npy') : formatOf(out, given);
    const file = several
      ? join(out, `chunk_${id}${index ? '.index' : ''}.${format === 'tiff' ? 'tiff' : format}`)
      : out;
    const q = new URLSearchParams({ format, wait: 'true', timeout: String(timeout) });
    if (index) q.set('part', 'index');
    if (!run) q.set('namespace', namespace);
    const path = run ? `/v1/runs/${run}/chunks/${id}?${q}` : `/v1/chunks/${id}?${q}`;
    const bytes = await c.bytes(
      path,
      progressBar(`download ${id}`, false, { unit: 'bytes', terminalOnly: true }),
    );
    writeFileAtomic(file, bytes);
    process.stdout.write(`chunk ${id} -> ${file} (${bytes.length} bytes)\n`);
  }
  return 0;
}

export const MOSAIC_HELP = `dqs mosaic RUN -o FILE.npy [--index] [--format npy|tiff|png|json] [--server URL]: the assembled run (waits)\n`;

export async function runMosaic(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    o: ['-o', '--output'],
    index: ['--index'],
    format: ['--format'],
  });
  if (switchFlag(flags, 'help')) return help(MOSAIC_HELP);
  if (positional.length !== 1) throw new UsageError('give one run id: dqs mosaic RUN -o FILE.npy');
  const out = singleString(flags, 'o', '-o');
  if (!out) throw new UsageError('-o FILE is required (.npy, .tiff, .png or .json)');
  const q = new URLSearchParams({
    format: formatOf(out, singleString(flags, 'format', '--format')),
    wait: 'true',
  });
  if (switchFlag(flags, 'index', '--index')) q.set('part', 'index');
  const bytes = await detached(flags, 'mosaic').bytes(
    `/v1/runs/${positional[0]}/mosaic?${q}`,
    progressBar(`mosaic ${positional[0]}`, false, { unit: 'bytes', terminalOnly: true }),
  );
  writeFileAtomic(out, bytes);
  process.stdout.write(`mosaic of ${positional[0]} -> ${out} (${bytes.length} bytes)\n`);
  return 0;
}

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

export const WORKERS_HELP = `dqs workers [--json] [--server URL]: the live workers (slots, threads, capabilities, chunks)
dqs workers pause NAME / dqs workers resume NAME: a paused worker takes no new chunk and its chunks stop at a cell boundary
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

/** A job id or a range expression (1-6,15,20,25-30), as a usage error when malformed. */
function jobRange(text: string): number[] {
  try {
    return parseJobRanges(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}
