/**
 * A real single-node Slurm for tests: munged, slurmctld and slurmd (Debian's munge and slurm-wlm) started here
 * as root, with their own key, socket, configuration, ports and state in a private temporary folder (no systemd,
 * no cgroups, no accounting), stopped afterwards. Clients reach it with SLURM_CONF from `env`.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../apps/cli/src/local-stack';

const PROGRAMS = [
  'munged',
  'slurmctld',
  'slurmd',
  'sbatch',
  'srun',
  'squeue',
  'scancel',
  'scontrol',
  'sinfo',
];

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin'])) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** Why a test Slurm cannot start here, or undefined when it can be tried. */
export function slurmUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `Slurm tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the test Slurm runs slurmd as root; these tests run as a normal user';
  const missing = PROGRAMS.filter((p) => !which(p));
  if (missing.length)
    return `${missing.join(', ')} not installed (apt-get install slurm-wlm munge; scripts/setup.sh does so as root)`;
  return undefined;
}

export interface TestSlurm {
  /** The environment of Slurm clients (sbatch, srun, squeue): SLURM_CONF. */
  env: Record<string, string>;
  dir: string;
  nodeName: string;
  cpus: number;
  /** The end of the daemons' logs, to explain a failure. */
  logs(): string;
  stop(): Promise<void>;
}

interface Daemon {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

export async function startSlurm(): Promise<TestSlurm> {
  const reason = slurmUnavailable();
  if (reason) throw new Error(reason);
  const dir = mkdtempSync('/tmp/dqs-slurm-test-');
  chmodSync(dir, 0o755); // munged insists that every folder above its socket is searchable and not writable by others
  for (const d of ['munge', 'state', 'spool', 'log']) mkdirSync(join(dir, d), { mode: 0o755 });
  const key = join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o600 });
  const socket = join(dir, 'munge', 'munge.socket');
  const nodeName = hostname().split('.')[0];
  const cpus = Math.max(2, availableParallelism());
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const conf = join(dir, 'slurm.conf');
  writeFileSync(join(dir, 'plugstack.conf'), '');
  writeFileSync(
    conf,
    [
      'ClusterName=dqstest',
      `SlurmctldHost=${nodeName}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      `PlugStackConfig=${join(dir, 'plugstack.conf')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'MpiDefault=none',
      'SchedulerType=sched/backfill',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      // the node is what this file says, whatever slurmd detects (no drain on a CPU count mismatch)
      'SlurmdParameters=config_overrides',
      'ReturnToService=2',
      'KillWait=5',
      // sbatch --wait polls every 2 s only while it is below MinJobAge / 2 (then up to 32 s)
      'MinJobAge=4',
      `FirstJobId=${1000 + (Date.now() % 1000000)}`, // job ids differ from one test Slurm to the next
      `NodeName=${nodeName} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=1000 State=UNKNOWN`,
      `PartitionName=debug Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const daemons: Daemon[] = [];
  const start = (name: string, cmd: string, args: string[]) => {
    const out = createWriteStream(join(dir, 'log', `${name}.out`));
    const child = spawn(which(cmd)!, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    daemons.push({ name, child, exited });
  };
  const logs = () =>
    ['munged.out', 'slurmctld.out', 'slurmd.out', 'slurmctld.log', 'slurmd.log']
      .map((f) => join(dir, 'log', f))
      .filter((f) => existsSync(f))
      .map((f) => `== ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
  const stop = async () => {
    for (const d of [...daemons].reverse()) {
      if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
      d.child.kill('SIGTERM');
      const done = await Promise.race([d.exited.then(() => true), sleep(10000).then(() => false)]);
      if (!done) d.child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const until = async (what: string, ok: () => boolean, ms: number) => {
    for (const t0 = Date.now(); !ok(); await sleep(200)) {
      const dead = daemons.find((d) => d.child.exitCode !== null || d.child.signalCode !== null);
      if (dead || Date.now() - t0 > ms)
        throw new Error(
          `test Slurm: ${dead ? `${dead.name} exited` : `no ${what} after ${ms / 1000} s`}\n${logs()}`,
        );
    }
  };
  try {
    start('munged', 'munged', [
      '-F',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--pid-file=${join(dir, 'munge', 'munged.pid')}`,
      `--seed-file=${join(dir, 'munge', 'munged.seed')}`,
      `--log-file=${join(dir, 'log', 'munged.log')}`,
    ]);
    await until('munge socket', () => existsSync(socket), 10000);
    start('slurmctld', 'slurmctld', ['-D', '-i']);
    start('slurmd', 'slurmd', ['-D', '-N', nodeName]);
    const state = () =>
      spawnSync(which('sinfo')!, ['-h', '-n', nodeName, '-o', '%T'], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      }).stdout?.trim();
    await until('idle node in sinfo', () => state() === 'idle', 30000);
  } catch (e) {
    const text = logs();
    await stop();
    throw new Error(
      `${(e as Error).message}${text && !(e as Error).message.includes(text) ? `\n${text}` : ''}`,
    );
  }
  return { env, dir, nodeName, cpus, logs, stop };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
