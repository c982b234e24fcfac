/** `dqs slurm`: a batch script that runs a run file on a Slurm allocation (G2S's qs_dm_slurm); submits it if asked. */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
import { packageRoot, SERVICE_ENTRY_POINTS } from '../local-stack';
import { parseG2sArgs, singleString, switchFlag, UsageError, FlagValues } from '../g2s-args';
import { buildSlurmScript, CLI_ENTRY_POINT, SlurmScriptOptions } from '../slurm-script';
import { readRunFile } from './run-file';

export const SLURM_HELP = `dqs slurm: run a run file on a Slurm allocation (G2S's qs_dm_slurm)

  dqs slurm --config run.yaml --nodes 2 --workers-per-node 2 --slots 1 --threads 2 --time 01:00:00 \\
            --account ACC [--partition P] [-o out/] [--script job.sbatch] [--submit] [--wait]

Writes an sbatch script that starts, on the allocation, a private redis-server (unless --redis-url), the
coordinator and the results service on the first node, and srun workers on every node (N x W workers with S slots
and T threads each; Slurm gives each worker S x T CPUs); then runs dqs dm --config run.yaml (the run file's prep:
section registers the inputs first) and downloads the mosaic and every chunk into the output folder. Everything
stops when the run ends, on scancel and at the time limit; the job fails when the run does.

  --config FILE          the run file (dqs template writes one; its prep: section lists each job's TI and DI files)
  --nodes N              nodes (default 1)
  --workers-per-node W   workers (Slurm tasks) per node (default 1)
  --slots S              chunks each worker computes at once, DQS_SLOTS (default 1)
  --threads T            kernel threads per chunk, DQS_THREADS (default: the run's -j; Slurm CPUs then S per worker)
  --time LIMIT           Slurm time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (default: the partition's)
  --account A            Slurm account;  --partition P   Slurm partition (default: Slurm's defaults)
  --name NAME            job name dqs-NAME (default: the run file's name)
  --port P               the coordinator's port on the first node (default: a free one)
  --redis-url URL        use this Redis (reachable from every node) instead of starting one
  --data-dir DIR         G2S_DATA_DIR of every service, on a filesystem all nodes share (default: G2S_DATA_DIR,
                         else /scratch/$USER/G2S when it exists, else OUT/g2s)
  -o, --output OUT       outputs: mosaic.<format>, chunks/, status.json, logs/, slurm-<job>.out (default dqs-NAME-out)
  --format F             npy (default), tiff, png or json, for the mosaic and the chunks
  --capabilities a,b     DQS_CAPABILITIES of the workers
  --script FILE          where the script goes (default dqs-NAME.sbatch)
  --submit               submit it (sbatch) and print the Slurm job id
  --wait                 submit it and wait until the job ends (sbatch --wait); exit 0 only if the run completed
  --node PATH, --dqs-root DIR   node and the built dqs checkout on the nodes (default: the ones running this)
`;

const FLAGS = {
  config: ['--config'],
  nodes: ['--nodes', '-N'],
  workersPerNode: ['--workers-per-node'],
  slots: ['--slots'],
  threads: ['--threads'],
  time: ['--time', '-t'],
  account: ['--account', '-A'],
  partition: ['--partition', '-p'],
  name: ['--name', '-J'],
  port: ['--port'],
  redisUrl: ['--redis-url'],
  dataDir: ['--data-dir'],
  out: ['-o', '--output'],
  format: ['--format'],
  capabilities: ['--capabilities'],
  script: ['--script'],
  submit: ['--submit'],
  wait: ['--wait'],
  node: ['--node'],
  dqsRoot: ['--dqs-root'],
  help: ['-h', '--help'],
};

/** Slurm's time formats (sbatch --time). */
export function checkSlurmTime(value: string): string {
  const m =
    /^(\d+)$/.exec(value) ??
    /^(\d+):([0-5]?\d)$/.exec(value) ??
    /^(\d+):([0-5]?\d):([0-5]?\d)$/.exec(value) ??
    /^(\d+)-(\d+)$/.exec(value) ??
    /^(\d+)-(\d+):([0-5]?\d)$/.exec(value) ??
    /^(\d+)-(\d+):([0-5]?\d):([0-5]?\d)$/.exec(value);
  const dayHours = /^\d+-(\d+)/.exec(value);
  if (!m || (dayHours && Number(dayHours[1]) > 23))
    throw new UsageError(
      `--time '${value}' is not a Slurm time limit; give MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. --time 01:30:00 or --time 2-00)`,
    );
  return value;
}

function positiveInt(flags: FlagValues, name: string, label: string): number | undefined {
  const v = singleString(flags, name, label);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v)))
    throw new UsageError(`${label} must be a positive integer (got '${v}')`);
  return Number(v);
}

function word(flags: FlagValues, name: string, label: string, what: string): string | undefined {
  const v = singleString(flags, name, label);
  if (v !== undefined && !/^[A-Za-z0-9_.+,-]+$/.test(v))
    throw new UsageError(`${label} '${v}': ${what} (letters, digits, _ . + , - only)`);
  return v;
}

export interface SlurmRequest {
  options: SlurmScriptOptions;
  /** Where the script goes. */
  script: string;
  submit: boolean;
  wait: boolean;
  /** Warnings that do not stop the command. */
  notes: string[];
}

/** The script's options from the command line, every flag checked ('help' for --help). */
export function slurmOptions(argv: string[], cwd = process.cwd()): SlurmRequest | 'help' {
  const { flags, positional } = parseG2sArgs(argv, FLAGS);
  if (switchFlag(flags, 'help')) return 'help';
  if (positional.length)
    throw new UsageError(`unexpected argument(s) ${positional.join(' ')}; the run file goes after --config`);
  const abs = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(cwd, p));
  const notes: string[] = [];

  const config = singleString(flags, 'config', '--config');
  if (!config)
    throw new UsageError('--config FILE is required: the run file (dqs template -o run.yaml writes one)');
  const runFile = abs(config);
  if (!existsSync(runFile) || !statSync(runFile).isFile())
    throw new UsageError(`--config ${config}: no such file (dqs template -o ${config} writes one)`);
  const run = readRunFile(runFile);
  for (const [flag, what] of [
    ['jg', 'jg (the job grid)'],
    ['dt', 'dt'],
    ['k', 'k'],
    ['n', 'n'],
  ])
    if (!run.flags.has(flag)) throw new UsageError(`--config ${config}: the run file needs ${what}`);
  for (const p of run.prep)
    for (const f of [...p.ti, p.di])
      if (!existsSync(f)) throw new UsageError(`--config ${config}: prep job ${p.id}: no such file ${f}`);

  const nodes = positiveInt(flags, 'nodes', '--nodes') ?? 1;
  const workersPerNode = positiveInt(flags, 'workersPerNode', '--workers-per-node') ?? 1;
  const slots = positiveInt(flags, 'slots', '--slots') ?? 1;
  const threads = positiveInt(flags, 'threads', '--threads');
  const time = singleString(flags, 'time', '--time');
  if (time !== undefined) checkSlurmTime(time);
  const account = word(flags, 'account', '--account', 'a Slurm account name');
  const partition = word(
    flags,
    'partition',
    '--partition',
    'a Slurm partition name (or several, comma-separated)',
  );
  const port = positiveInt(flags, 'port', '--port');
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be at most 65535 (got ${port})`);
  const stem = basename(runFile, extname(runFile)).replace(/[^A-Za-z0-9_.-]+/g, '-') || 'run';
  const name = singleString(flags, 'name', '--name') ?? stem;
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name))
    throw new UsageError(
      `--name '${name}': use letters, digits, _ . and - only (the job is called dqs-NAME)`,
    );

  const redisUrl = singleString(flags, 'redisUrl', '--redis-url');
  if (redisUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(redisUrl);
    } catch {
      throw new UsageError(`--redis-url '${redisUrl}' is not a URL; give e.g. redis://:PASSWORD@host:6379`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
      throw new UsageError(`--redis-url '${redisUrl}' must start with redis:// or rediss://`);
    if (nodes > 1 && /^(localhost|127\.|\[::1\]$)/.test(u.hostname))
      throw new UsageError(
        `--redis-url ${u.hostname}: workers on ${nodes} nodes cannot reach a loopback Redis; give an address every node reaches, or leave --redis-url out (a Redis then starts on the first node)`,
      );
  }

  const out = abs(singleString(flags, 'out', '-o') ?? `dqs-${name}-out`);
  const format = singleString(flags, 'format', '--format') ?? 'npy';
  if (!['npy', 'tiff', 'png', 'json'].includes(format))
    throw new UsageError(`--format '${format}': give npy, tiff, png or json`);
  const given =
    singleString(flags, 'dataDir', '--data-dir') ?? (process.env.G2S_DATA_DIR?.trim() || undefined);
  const scratch = process.env.USER ? join('/scratch', process.env.USER, 'G2S') : undefined;
  const dataDir = given ? abs(given) : scratch && existsSync(scratch) ? scratch : join(out, 'g2s');
  if (nodes > 1 && /^\/(tmp|var\/tmp|dev\/shm)(\/|$)/.test(dataDir))
    notes.push(
      `the data directory ${dataDir} is usually local to each node; the ${nodes} nodes must share it (--data-dir)`,
    );
  if (run.prep.length === 0)
    notes.push(
      `${config} has no prep: section: its jobs must have been prepared (dqs prep) on a server using the data directory ${dataDir}; or list their TI and DI files under prep:`,
    );
  const capabilities = singleString(flags, 'capabilities', '--capabilities');
  if (capabilities !== undefined && !/^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/.test(capabilities))
    throw new UsageError(`--capabilities '${capabilities}': a comma-separated list of words, e.g. cpu,avx2`);

  const requires = (run.flags.get('requires') ?? []).flatMap((r) => r.split(',')).filter(Boolean);
  const offered = (capabilities ?? '').split(',');
  const lacking = requires.filter((r) => !offered.includes(r));
  if (lacking.length)
    notes.push(
      `the run requires ${lacking.join(',')}, which these workers do not offer (--capabilities); its chunks would wait`,
    );

  const dqsRoot = abs(singleString(flags, 'dqsRoot', '--dqs-root') ?? packageRoot());
  for (const f of [CLI_ENTRY_POINT, ...Object.values(SERVICE_ENTRY_POINTS)])
    if (!existsSync(join(dqsRoot, f)))
      throw new UsageError(
        `${join(dqsRoot, f)} is missing: build dqs there first (npm run build), or give --dqs-root DIR`,
      );
  const node = abs(singleString(flags, 'node', '--node') ?? process.execPath);
  if (!existsSync(node))
    throw new UsageError(`--node ${node}: no such file (the node binary every node runs)`);
  const redisServer = redisUrl ? undefined : whichSync('redis-server');
  if (!redisUrl && !redisServer)
    notes.push(
      'redis-server is not on PATH here; the first node needs it (apt-get install redis-server), or give --redis-url',
    );

  const script = abs(singleString(flags, 'script', '--script') ?? `dqs-${name}.sbatch`);
  const wait = switchFlag(flags, 'wait', '--wait');
  const submit = wait || switchFlag(flags, 'submit', '--submit');
  return {
    script,
    submit,
    wait,
    notes,
    options: {
      jobName: `dqs-${name}`,
      nodes,
      workersPerNode,
      slots,
      threads,
      time,
      account,
      partition,
      port,
      redisUrl,
      dataDir,
      runFile,
      workDir: cwd,
      outDir: out,
      format,
      capabilities,
      dqsRoot,
      node,
      redisServer,
    },
  };
}

function whichSync(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const f = join(dir, cmd);
    if (existsSync(f)) return f;
  }
  return undefined;
}

export async function runSlurm(argv: string[]): Promise<number> {
  const parsed = slurmOptions(argv);
  if (parsed === 'help') {
    process.stdout.write(SLURM_HELP);
    return 0;
  }
  const { options, script } = parsed;
  let text: string;
  try {
    text = buildSlurmScript(options);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  for (const note of parsed.notes) process.stderr.write(`dqs slurm: note: ${note}\n`);
  mkdirSync(join(options.outDir, 'logs'), { recursive: true }); // Slurm writes its output there from the start
  writeFileSync(script, text);
  chmodSync(script, 0o755);
  process.stdout.write(
    `wrote ${script}: ${options.nodes} node(s) x ${options.workersPerNode} worker(s), outputs in ${options.outDir}\n`,
  );
  if (!parsed.submit) {
    process.stdout.write(`submit it with: sbatch ${shellArg(script)}   (or dqs slurm ... --submit)\n`);
    return 0;
  }
  return submit(script, options.outDir, parsed.wait);
}

function shellArg(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** sbatch --parsable [--wait] SCRIPT: prints the job id as soon as it is known, then (--wait) how the job ended. */
function submit(script: string, outDir: string, wait: boolean): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn('sbatch', ['--parsable', ...(wait ? ['--wait'] : []), script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let jobId = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)(;\S+)?\s*$/m.exec(out);
      if (m && !jobId) {
        jobId = m[1];
        process.stdout.write(
          `submitted Slurm job ${jobId}; its output: ${join(outDir, `slurm-${jobId}.out`)}\n` +
            (wait ? `waiting until it ends (sbatch --wait)...\n` : `${jobId}\n`),
        );
      }
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(
        e.code === 'ENOENT'
          ? `dqs slurm: sbatch is not on PATH: run this on a Slurm login node, or submit ${script} there with sbatch\n`
          : `dqs slurm: cannot run sbatch: ${e.message}\n`,
      );
      resolvePromise(1);
    });
    child.once('close', (code, signal) => {
      if (!jobId) {
        process.stderr.write(
          `dqs slurm: sbatch failed (${signal ?? `exit ${code}`}); the script is ${script}\n`,
        );
        return resolvePromise(1);
      }
      if (!wait) return resolvePromise(code === 0 ? 0 : 1);
      if (code === 0) {
        process.stdout.write(`Slurm job ${jobId} completed; outputs in ${outDir}\n`);
        return resolvePromise(0);
      }
      process.stderr.write(
        `dqs slurm: Slurm job ${jobId} failed (${signal ?? `exit ${code}`}); see ${join(outDir, `slurm-${jobId}.out`)} and ${join(outDir, 'logs')}\n`,
      );
      resolvePromise(1);
    });
  });
}
