/** Run files (YAML) for dqs dm --config and dqs slurm, and dqs template. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { writeFileAtomic } from '@dqs/grids';
import { FlagValues, parseG2sArgs, singleString, switchFlag, UsageError } from '../g2s-args';
import { help } from './common';

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
export function mergeConfig(flags: FlagValues, file: string): RunFilePrep[] {
  const config = readRunFile(file);
  for (const [flag, value] of config.flags) if (!flags.has(flag)) flags.set(flag, value);
  return config.prep;
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
