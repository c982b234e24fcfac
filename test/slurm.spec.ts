/**
 * dqs slurm: the batch script it writes (header, Redis, quoting, bash -n), its flags, and end to end on a real
 * single-node Slurm (munged, slurmctld and slurmd started by the test, as root) against the same run on a normal
 * private stack: the same mosaic bytes.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGrid } from '@dqs/grids';
import { checkSlurmTime, slurmOptions } from '../apps/cli/src/commands/slurm';
import { buildSlurmScript, SlurmScriptOptions } from '../apps/cli/src/slurm-script';
import { UsageError } from '../apps/cli/src/g2s-args';
import { stoneLike } from './support/training-images';
import { nd, startTestStack } from './support/stack';
import { slurmUnavailable, startSlurm, TestSlurm } from './support/slurm';

const ROOT = join(__dirname, '..');
const DQS = join(ROOT, 'bin', 'dqs.js');
const stone = stoneLike(80, 80);
const TILE = 40;
const JOBS = [101, 102, 103, 104];

/** DI of a job: empty, with a few hard data in job 103. */
function di(id: number): Float32Array {
  const d = new Float32Array(TILE * TILE).fill(NaN);
  if (id === 103) for (let c = 0; c < d.length; c += 97) d[c] = stone.data[c];
  return d;
}

const RUN_YAML = `jg: [[101, 102], [103, 104]]
dt: [0]
k: 1.2
n: [20]
s: 100
j: 1
ks: [21]
prep:
${JOBS.map((id) => `  - {id: ${id}, ti: [inputs/ti.npy], di: "inputs/di ${id}.npy"}`).join('\n')}
`;

/** A folder with the run's inputs and its run file (a space in its name: the script must quote). */
function writeInputs(dir: string, yaml = RUN_YAML): string {
  mkdirSync(join(dir, 'inputs'), { recursive: true });
  writeGrid(join(dir, 'inputs', 'ti.npy'), nd([80, 80], stone.data));
  for (const id of JOBS) writeGrid(join(dir, 'inputs', `di ${id}.npy`), nd([TILE, TILE], di(id)));
  const file = join(dir, 'run.yaml');
  writeFileSync(file, yaml);
  return file;
}

const base: SlurmScriptOptions = {
  jobName: 'dqs-run',
  nodes: 2,
  workersPerNode: 3,
  slots: 2,
  threads: 4,
  time: '01:30:00',
  account: 'geo-lab',
  dataDir: '/shared/g2s',
  runFile: '/home/me/run.yaml',
  outDir: '/home/me/out',
  dqsRoot: '/opt/dqs',
  node: '/usr/bin/node',
};

describe('dqs slurm: the batch script', () => {
  it('asks Slurm for the nodes, tasks, CPUs, time and account, and runs everything on the allocation', () => {
    const s = buildSlurmScript(base);
    const header = s.split('\n').filter((l) => l.startsWith('#SBATCH'));
    expect(header).toEqual([
      '#SBATCH --job-name=dqs-run',
      '#SBATCH --nodes=2',
      '#SBATCH --ntasks-per-node=3',
      '#SBATCH --cpus-per-task=8', // slots x threads
      '#SBATCH --time=01:30:00',
      '#SBATCH --account=geo-lab',
      '#SBATCH --output=/home/me/out/slurm-%j.out',
    ]);
    expect(s.startsWith('#!/bin/bash\n')).toBe(true);
    expect(s).toContain('export DQS_SLOTS=2');
    expect(s).toContain('export DQS_THREADS=4');
    expect(s).toContain('unset DQS_CAPABILITIES');
    expect(s).toContain('export G2S_DATA_DIR=/shared/g2s');
    expect(s).toContain('scontrol show hostnames "${SLURM_JOB_NODELIST');
    expect(s).toMatch(
      /srun --nodes="\$NODES" --ntasks-per-node="\$WORKERS_PER_NODE" --cpus-per-task="\$CPUS_PER_WORKER"/,
    );
    expect(s).toContain('"$DQS_ROOT"/dist/apps/worker/src/main.js');
    expect(s).toContain('PORT=$COORDINATOR_PORT "$NODE" "$DQS_ROOT"/dist/apps/coordinator/src/main.js');
    expect(s).toContain('PORT=$RESULTS_PORT "$NODE" "$DQS_ROOT"/dist/apps/results/src/main.js');
    expect(s).toContain('dm --config "$RUN_FILE" --server "$DQS_URL"');
    expect(s).toContain('mosaic "$RUN_ID" -o "$OUT/mosaic.$FORMAT"');
    expect(s).toMatch(/^trap cleanup EXIT$/m);
    expect(s).toMatch(/^trap .* TERM$/m);
    // a private redis-server with the stack's arguments, bound to the head's address, with a password
    expect(s).toContain(
      `"$REDIS_SERVER" "$JOB_TMP/redis.conf" --port "$REDIS_PORT" --bind $REDIS_BIND --save '' --appendonly no --maxmemory-policy noeviction --dir "$REDIS_DIR"`,
    );
    expect(s).toContain('requirepass');
    expect(s).toContain('export REDIS_URL="redis://:$REDIS_PASSWORD@$HEAD_IP:$REDIS_PORT"');
  });

  it('leaves out what is not given, and starts no redis-server when a Redis URL is given', () => {
    const s = buildSlurmScript({
      ...base,
      time: undefined,
      account: undefined,
      threads: undefined,
      partition: 'gpu,cpu',
      capabilities: 'avx2,highmem',
      redisUrl: 'redis://:pw@redis.cluster:6379/2',
      port: 4000,
    });
    expect(s).not.toMatch(/--time|--account/);
    expect(s).toContain('#SBATCH --partition=gpu,cpu');
    expect(s).toContain('#SBATCH --cpus-per-task=2'); // slots when threads are the run's -j
    expect(s).toContain('unset DQS_THREADS');
    expect(s).toContain('export DQS_CAPABILITIES=avx2,highmem');
    expect(s).toContain('COORDINATOR_PORT=4000');
    expect(s).toContain('export REDIS_URL=redis://:pw@redis.cluster:6379/2');
    expect(s).not.toMatch(/redis-server|REDIS_SERVER|requirepass/);
  });

  it('quotes every path (spaces, quotes, %) and bash reads it (bash -n)', () => {
    const odd = "/tmp/a b/it's 100%";
    const s = buildSlurmScript({
      ...base,
      runFile: `${odd}/run file.yaml`,
      outDir: `${odd}/out`,
      dataDir: `${odd}/data`,
      dqsRoot: `${odd}/dqs`,
      node: `${odd}/bin/node`,
    });
    expect(s).toContain(`#SBATCH --output="/tmp/a b/it's 100%%/out/slurm-%j.out"`);
    const dir = mkdtempSync(join(tmpdir(), 'dqs-slurm-script-'));
    try {
      const file = join(dir, 'job.sbatch');
      writeFileSync(file, s);
      const check = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
      // the variables as bash sees them
      const vars = s.slice(s.indexOf('NODE='), s.indexOf('\nDQS=('));
      const shown = spawnSync(
        'bash',
        [
          '-c',
          `${vars}\nprintf '%s\\n' "$NODE" "$DQS_ROOT" "$RUN_FILE" "$OUT" "$G2S_DATA_DIR" "$WORKER_LOGS"`,
        ],
        { encoding: 'utf8' },
      );
      expect(shown.stdout.split('\n').slice(0, 6)).toEqual([
        `${odd}/bin/node`,
        `${odd}/dqs`,
        `${odd}/run file.yaml`,
        `${odd}/out`,
        `${odd}/data`,
        "/tmp/a b/it's 100%%/out/logs/worker-%N-%t.log",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => buildSlurmScript({ ...base, outDir: '/tmp/a"b' })).toThrow(/double quote/);
  });
});

describe('dqs slurm: flags', () => {
  let dir = '';
  let runFile = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dqs slurm flags-'));
    runFile = writeInputs(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const parse = (...argv: string[]) => {
    const r = slurmOptions(['--config', runFile, ...argv], dir);
    if (r === 'help') throw new Error('help');
    return r;
  };
  const fails = (argv: string[], message: RegExp) => {
    let error: unknown;
    try {
      slurmOptions(argv, dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  };

  it('reads the flags, with defaults from the run file and this dqs', () => {
    const r = parse(
      '--nodes', '2', '--workers-per-node', '2', '--slots', '1', '--threads', '2', '--time', '1-12',
      '--account', 'ACC', '--partition', 'short', '--data-dir', 'shared data', '-o', 'out', '--port', '3100',
    ); // prettier-ignore
    expect(r.options).toMatchObject({
      jobName: 'dqs-run',
      nodes: 2,
      workersPerNode: 2,
      slots: 1,
      threads: 2,
      time: '1-12',
      account: 'ACC',
      partition: 'short',
      port: 3100,
      runFile,
      workDir: dir,
      dataDir: join(dir, 'shared data'),
      outDir: join(dir, 'out'),
      dqsRoot: ROOT,
      node: process.execPath,
    });
    expect(r.script).toBe(join(dir, 'dqs-run.sbatch'));
    expect(r.submit).toBe(false);
    const d = parse('--name', 'big', '--wait');
    expect(d.options).toMatchObject({ jobName: 'dqs-big', nodes: 1, workersPerNode: 1, slots: 1 });
    expect(d.options.threads).toBeUndefined();
    expect(d.script).toBe(join(dir, 'dqs-big.sbatch'));
    expect(d.submit && d.wait).toBe(true);
    expect(slurmOptions(['--help'])).toBe('help');
    expect(r.notes).toEqual([
      `the data directory ${join(dir, 'shared data')} is usually local to each node; the 2 nodes must share it (--data-dir)`,
    ]);
    expect(d.notes).toEqual([]);
    const gpu = join(dir, 'gpu.yaml');
    writeFileSync(gpu, `${RUN_YAML}requires: [gpu, avx2]\n`);
    const g = slurmOptions(['--config', gpu, '--capabilities', 'avx2'], dir);
    expect(g !== 'help' && g.notes).toEqual([
      'the run requires gpu, which these workers do not offer (--capabilities); its chunks would wait',
    ]);
  });

  it('accepts the time formats of Slurm only', () => {
    for (const t of ['30', '30:00', '01:30:00', '2-12', '2-12:30', '2-12:30:15', '0'])
      expect(checkSlurmTime(t)).toBe(t);
    for (const t of ['1:2:3:4', '1h', '10:61', '1-25', '-5', '1.5', ''])
      expect(() => checkSlurmTime(t)).toThrow(
        /--time '.*' is not a Slurm time limit; give MM, MM:SS, HH:MM:SS/,
      );
  });

  it('says which flag is wrong and what to do', () => {
    fails([], /--config FILE is required/);
    fails(['--config', join(dir, 'nope.yaml')], /no such file \(dqs template -o/);
    for (const flag of ['--nodes', '--workers-per-node', '--slots', '--threads', '--port'])
      for (const v of ['0', '-1', '1.5', 'two'])
        fails(
          ['--config', runFile, flag, v],
          new RegExp(`${flag} must be a positive integer \\(got '${v}'\\)`),
        );
    fails(['--config', runFile, '--port', '70000'], /--port must be at most 65535/);
    fails(['--config', runFile, '--time', '90', 'minutes'], /--time takes one value/);
    fails(['--config', runFile, '--time', '1:2:3:4'], /not a Slurm time limit/);
    fails(['--config', runFile, '--account', 'a b;c'], /unexpected argument|--account/);
    fails(['--config', runFile, '--account', 'a;b'], /--account 'a;b': a Slurm account name/);
    fails(['--config', runFile, '--redis-url', 'http://x'], /must start with redis:\/\//);
    fails(
      ['--config', runFile, '--nodes', '2', '--redis-url', 'redis://127.0.0.1:6379'],
      /cannot reach a loopback Redis/,
    );
    fails(['--config', runFile, '--format', 'bmp'], /--format 'bmp': give npy, tiff, png or json/);
    fails(['--config', runFile, '--colour', 'blue'], /unknown flag --colour/);
    fails(['--config', runFile, '--name', 'a/b'], /--name 'a\/b'/);
    fails(['--config', runFile, '--node', '/no/node'], /--node \/no\/node: no such file/);
    fails(['--config', runFile, '--dqs-root', dir], /is missing: build dqs there first/);
    // the run file: parsed, complete, its prep files present
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'jg: [[1]]\ncolour: blue\n');
    fails(['--config', bad], /unknown field 'colour'/);
    writeFileSync(bad, 'dt: [0]\nk: 1\nn: 5\n');
    fails(['--config', bad], /the run file needs jg/);
    writeFileSync(bad, RUN_YAML.replace('inputs/ti.npy', 'inputs/gone.npy'));
    fails(['--config', bad], /prep job 101: no such file .*inputs\/gone\.npy/);
    writeFileSync(bad, RUN_YAML + '  - {id: x, ti: a, di: b}\n');
    fails(['--config', bad], /prep: entry 5: id must be a job id/);
  });

  it('writes the script and says how to submit it; without sbatch, says so', () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [DQS, 'slurm', '--config', runFile, ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
    const w = run(['--workers-per-node', '2', '--script', 'job.sbatch', '-o', 'out']);
    expect(w.stderr).toBe('');
    expect(w.status).toBe(0);
    expect(w.stdout).toContain(`submit it with: sbatch '${join(dir, 'job.sbatch')}'`);
    expect(readFileSync(join(dir, 'job.sbatch'), 'utf8')).toContain('#SBATCH --ntasks-per-node=2');
    expect(existsSync(join(dir, 'out', 'logs'))).toBe(true);
    const bad = run(['--nodes', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/dqs slurm: error: --nodes must be a positive integer \(got '0'\)/);
    const none = run(['--submit', '--script', 'job2.sbatch'], { PATH: '/nonexistent' });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/sbatch is not on PATH: run this on a Slurm login node/);
    expect(none.stderr).toMatch(/note: redis-server is not on PATH here/);
  });
});

const skip = process.env.DQS_SKIP_SLURM ? `DQS_SKIP_SLURM=${process.env.DQS_SKIP_SLURM}` : slurmUnavailable();
if (skip) process.stderr.write(`slurm.spec: the real Slurm test is skipped: ${skip}\n`);

(skip ? describe.skip : describe)(
  `dqs slurm on a real single-node Slurm${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let slurm: TestSlurm;
    let dir = '';
    let reference: Buffer;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'dqs slurm e2e-'));
      const [s] = await Promise.all([
        startSlurm(),
        (async () => {
          // the same run on a normal private stack (1 worker): the reference bytes
          const t = await startTestStack({ workers: 1, slots: 1, threads: 1 });
          try {
            const ti = await t.client.uploadArray(nd([80, 80], stone.data));
            for (const id of JOBS) {
              const d = await t.client.uploadArray(nd([TILE, TILE], di(id)));
              await t.client.json('POST', '/v1/prep', { id, ti: [ti], di: d, dt: [0] });
            }
            const run = await t.client.json<{ runId: string }>('POST', '/v1/runs', {
              jg: [
                [101, 102],
                [103, 104],
              ],
              dt: [0],
              k: 1.2,
              n: [20],
              s: 100,
              j: 1,
              ks: [21],
            });
            reference = Buffer.from(await t.client.bytes(`/v1/runs/${run.runId}/mosaic?wait=true`));
          } finally {
            await t.stack.stop();
          }
        })(),
      ]);
      slurm = s;
    }, 90000);
    afterAll(async () => {
      await slurm?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const dqsSlurm = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [DQS, 'slurm', ...args], {
          cwd: dir,
          env: {
            ...process.env,
            ...slurm.env,
            DQS_LOCK_DURATION_MS: '4000',
            DQS_STALLED_INTERVAL_MS: '2000',
          },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('close', (status) => resolve({ status, stdout, stderr }));
      });
    /** Processes whose environment holds this (the services and workers of a job: their G2S_DATA_DIR). */
    const processesWith = (entry: string) =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(entry);
          } catch {
            return false;
          }
        });
    const squeue = () =>
      spawnSync('squeue', ['-h'], { env: { ...process.env, ...slurm.env }, encoding: 'utf8' }).stdout.trim();

    it('submits the run file, waits, and gets the bytes of the same run on a normal stack', async () => {
      const runFile = writeInputs(join(dir, 'ok'));
      const r = await dqsSlurm([
        '--config', runFile, '--nodes', '1', '--workers-per-node', '2', '--slots', '1', '--threads', '1',
        '--time', '00:05:00', '--account', 'dqs', '-o', 'ok/out dir', '--wait',
      ]); // prettier-ignore
      const out = join(dir, 'ok', 'out dir');
      const jobId = /submitted Slurm job (\d+)/.exec(r.stdout)?.[1];
      const slurmOut = jobId ? join(out, `slurm-${jobId}.out`) : '';
      const explain = () =>
        `exit ${r.status}\n${r.stdout}\n${r.stderr}\n${slurmOut && existsSync(slurmOut) ? readFileSync(slurmOut, 'utf8') : ''}\n${slurm.logs()}`;
      if (r.status !== 0 || !jobId) throw new Error(`dqs slurm --wait failed:\n${explain()}`);
      expect(r.stdout).toContain(`Slurm job ${jobId} completed`);
      const log = readFileSync(slurmOut, 'utf8');
      expect(log).toMatch(/redis-server on 127\.0\.0\.1:\d+/);
      expect(log).toMatch(/2 worker\(s\) ready/);
      expect(log).toMatch(/prepared job 104 in namespace default: input_ti_0_104, input_di_104/);
      expect(log).toMatch(/run r\w+ completed/);
      expect(log).toMatch(/exit 0\s*$/);
      expect(readFileSync(join(out, 'mosaic.npy')).equals(reference)).toBe(true);
      expect(readdirSync(join(out, 'chunks')).sort()).toEqual(JOBS.map((id) => `chunk_${id}.npy`));
      const status = JSON.parse(readFileSync(join(out, 'status.json'), 'utf8')) as { state: string };
      expect(status.state).toBe('completed');
      // both workers were Slurm tasks of the job
      expect(readdirSync(join(out, 'logs')).filter((f) => f.startsWith('worker-')).length).toBe(2);
      expect(squeue()).toBe('');
    }, 120000);

    it('fails the job (and dqs slurm --wait) when the run cannot run, and stops every service', async () => {
      const runFile = writeInputs(join(dir, 'bad'), RUN_YAML.replace('[103, 104]', '[103, 999]'));
      const r = await dqsSlurm(['--config', runFile, '--workers-per-node', '1', '-o', 'bad/out', '--wait']);
      expect(r.status).toBe(1);
      const jobId = /submitted Slurm job (\d+)/.exec(r.stdout)?.[1];
      expect(r.stderr).toContain(`Slurm job ${jobId} failed (exit 1)`);
      const log = readFileSync(join(dir, 'bad', 'out', `slurm-${jobId}.out`), 'utf8');
      expect(log).toMatch(/999/);
      expect(log).toMatch(/dqs dm failed before launching the run/);
      expect(log).toMatch(/stopping the workers and the services/);
      expect(log).toMatch(/exit 1\s*$/);
      expect(squeue()).toBe('');
      expect(processesWith(`G2S_DATA_DIR=${join(dir, 'bad', 'out', 'g2s')}`)).toEqual([]);
    }, 120000);

    it('stops every service and worker when the job is cancelled (scancel)', async () => {
      const big = RUN_YAML.replace('n: [20]', 'n: [50]')
        .replace('ks: [21]', 'ks: null')
        .replace(/di (\d+)\.npy/g, 'big $1.npy');
      const runFile = writeInputs(join(dir, 'cancel'), big);
      for (const id of JOBS)
        writeGrid(
          join(dir, 'cancel', 'inputs', `big ${id}.npy`),
          nd([300, 300], new Float32Array(300 * 300).fill(NaN)),
        );
      const r = await dqsSlurm([
        '--config',
        runFile,
        '--workers-per-node',
        '2',
        '-o',
        'cancel/out',
        '--submit',
      ]);
      expect(r.status).toBe(0);
      const jobId = r.stdout.trim().split('\n').pop()!;
      expect(jobId).toMatch(/^\d+$/);
      const out = join(dir, 'cancel', 'out');
      const slurmOut = join(out, `slurm-${jobId}.out`);
      const text = () => (existsSync(slurmOut) ? readFileSync(slurmOut, 'utf8') : '');
      for (let i = 0; !/run r\w+ \(namespace default, batch default\): 4 chunks/.test(text()); i++) {
        if (i > 600 || squeue() === '') throw new Error(`the run did not start:\n${text()}\n${slurm.logs()}`);
        await new Promise((done) => setTimeout(done, 100));
      }
      const services = `G2S_DATA_DIR=${join(out, 'g2s')}`;
      // the script, redis-server, the coordinator, results, srun and both workers share that environment
      expect(processesWith(services).length).toBeGreaterThanOrEqual(5);
      spawnSync('scancel', [jobId], { env: { ...process.env, ...slurm.env } });
      for (let i = 0; squeue() !== ''; i++) {
        if (i > 300) throw new Error(`job ${jobId} still there 30 s after scancel:\n${squeue()}`);
        await new Promise((done) => setTimeout(done, 100));
      }
      expect(text()).toMatch(/SIGTERM \(scancel or time limit\)/);
      expect(text()).toMatch(/stopping the workers and the services/);
      expect(processesWith(services)).toEqual([]);
      expect(readdirSync(tmpdir()).filter((f) => f.startsWith(`dqs-slurm-${jobId}.`))).toEqual([]);
      expect(existsSync(join(out, 'mosaic.npy'))).toBe(false);
    }, 90000);
  },
);
