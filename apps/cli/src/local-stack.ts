/**
 * A dqs stack as local processes: a private redis-server (unless a Redis URL is given), the coordinator, the
 * results service and N workers, each the same entry point docker-compose runs. Used by `dqs up`, `dqs demo`
 * and the end-to-end tests. Its processes end when the command that started them ends, even by SIGKILL (see
 * process-guard); with `restart`, a process that dies is started again (as compose's restart policy does).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { Reaper, assertPortFree, claimDirectory } from './process-guard';

export const SERVICE_ENTRY_POINTS = {
  coordinator: 'dist/apps/coordinator/src/main.js',
  results: 'dist/apps/results/src/main.js',
  worker: 'dist/apps/worker/src/main.js',
} as const;
export type Role = keyof typeof SERVICE_ENTRY_POINTS;

/** The line each process prints once it is ready (the stack and dqs slurm's batch script wait for it). */
export const READY_LINES: Record<Role | 'redis', RegExp> = {
  redis: /Ready to accept connections/,
  coordinator: /Bull Board/,
  results: /results: writing outputs/,
  worker: /slot\(s\)/,
};

/** The dqs package root (this file sits at different depths in the source and build trees). */
export function packageRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'dqs')
      return dir;
  }
  throw new Error('cannot find the dqs package root');
}

/**
 * Arguments of a private redis-server: loopback only (unless told which addresses to bind), no eviction (BullMQ
 * needs that); with `persist`, an append-only file in `dir` (fsync every second, as docker-compose's Redis),
 * otherwise nothing kept on disk.
 */
export function privateRedisArgs(
  port: number | string,
  dir: string,
  bind = '127.0.0.1',
  persist = false,
): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    bind,
    '--save',
    '',
    '--appendonly',
    persist ? 'yes' : 'no',
    ...(persist ? ['--appendfsync', 'everysec'] : []),
    '--maxmemory-policy',
    'noeviction',
    '--dir',
    dir,
  ];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface StackOptions {
  workers: number;
  /** Chunks computing at once per worker. */
  slots?: number;
  /** Kernel threads per chunk (default: the run's -j). */
  threads?: number;
  port?: number;
  /** Use this Redis instead of starting a private redis-server. */
  redisUrl?: string;
  /** G2S_DATA_DIR for every process (default: the usual G2S rules). */
  dataDir?: string;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Where each process's output goes (default: <data root>/logs). */
  logDir?: string;
  /**
   * Redis keeps an append-only file in <data root>/redis, so that runs outlive a restart of Redis or of the
   * whole stack (dqs up); otherwise Redis keeps nothing on disk.
   */
  persist?: boolean;
  /** A process that dies while the stack is up is started again, with the same port and name (dqs up). */
  restart?: boolean;
  log?: (line: string) => void;
}

interface ProcSpec {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  readyLine: RegExp;
}

interface Proc {
  role: Role | 'redis';
  name: string;
  child: ChildProcess;
  /** The current child's exit (a restarted process has a new child). */
  exited: Promise<number | null>;
  /** How many times it was started again after dying, and when it died lately. */
  restarts: number;
  deaths?: number[];
  /** Resolves once the current child is ready. */
  ready: Promise<Proc>;
  spec: ProcSpec;
}

const RESTART_DELAY_MS = 500;
const MAX_RESTARTS_PER_MINUTE = 5;

export class LocalStack {
  url = '';
  /** Bull Board login: user dqs, this password (DQS_BOARD_PASSWORD or DQS_TOKEN when set, else made here). */
  readonly boardPassword: string;
  redisUrl = '';
  readonly procs: Proc[] = [];
  private workerCount = 0;
  private readonly root = packageRoot();
  private logDir = '';
  private stopping = false;
  private reaper: Reaper | undefined;
  private releaseRedisDir: ((pid: number | undefined) => void) | undefined;

  constructor(private readonly options: StackOptions) {
    const env = { ...process.env, ...options.env };
    this.boardPassword = env.DQS_BOARD_PASSWORD || env.DQS_TOKEN || randomBytes(9).toString('base64url');
  }

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.options.env,
      DQS_BOARD_PASSWORD: this.boardPassword,
      ...extra,
      REDIS_URL: this.redisUrl,
    };
    if (this.options.dataDir) env.G2S_DATA_DIR = this.options.dataDir;
    return env;
  }

  private spawnLogged(
    role: Proc['role'],
    name: string,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    readyLine: RegExp,
  ): Promise<Proc> {
    const proc = { role, name, restarts: 0, spec: { cmd, args, env, readyLine } } as Proc;
    this.procs.push(proc);
    return this.launch(proc);
  }

  /** Starts (or starts again) a process; resolves once it printed its ready line. */
  private launch(proc: Proc, timeoutMs = 30000): Promise<Proc> {
    const { name, spec } = proc;
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    // its own process group: a Ctrl-C meant for the command does not reach it before the command stops it in order
    const child = spawn(spec.cmd, spec.args, {
      cwd: this.root,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.reaper ??= new Reaper();
    this.reaper.watch(child.pid, proc.role === 'redis' ? 1 : 0);
    if (proc.role === 'redis') this.releaseRedisDir?.(child.pid);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    proc.child = child;
    proc.exited = exited;
    let tail = '';
    proc.ready = new Promise((resolve, reject) => {
      let seen = '';
      let ready = false;
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within ${timeoutMs / 1000} s; see ${logFile}`)),
        timeoutMs,
      );
      const onData = (d: Buffer) => {
        out.write(d);
        tail = (tail + d.toString()).slice(-4000);
        if (!ready) {
          seen += d.toString();
          if (spec.readyLine.test(seen)) {
            clearTimeout(timer);
            ready = true;
            seen = '';
            resolve(proc);
          } else if (seen.length > 100000) seen = seen.slice(-10000);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${name}: ${e.message}`));
      });
      void exited.then((code) => {
        clearTimeout(timer);
        out.end();
        this.reaper?.forget(child.pid);
        if (!ready) {
          // the reason is in its last lines: say it here, not only in the log file
          const last = tail.trim().split('\n').slice(-3).join('\n  ');
          reject(
            new Error(
              `${name} exited with code ${code ?? child.signalCode} while starting (log: ${logFile})${last ? `:\n  ${last}` : ''}`,
            ),
          );
        } else if (this.options.restart && !this.stopping) this.restartLater(proc, code ?? child.signalCode);
      });
    });
    return proc.ready;
  }

  /** A process died while the stack is up: it is started again, unless it keeps dying. */
  private restartLater(proc: Proc, how: number | string | null): void {
    const now = Date.now();
    const recent = (proc.deaths ?? []).filter((t) => now - t < 60000);
    recent.push(now);
    proc.deaths = recent;
    if (recent.length > MAX_RESTARTS_PER_MINUTE) {
      this.options.log?.(
        `${proc.name} died ${recent.length} times within a minute (last: ${how}); not restarting it (see ${join(this.logDir, `${proc.name}.log`)})`,
      );
      return;
    }
    this.options.log?.(`${proc.name} exited (${how}); starting it again`);
    setTimeout(() => {
      if (this.stopping) return;
      proc.restarts++;
      this.launch(proc).then(
        () => this.options.log?.(`${proc.name} is back`),
        (e: Error) => this.options.log?.(`${proc.name} could not start again: ${e.message}`),
      );
    }, RESTART_DELAY_MS).unref();
  }

  private entry(role: Role): string {
    const file = join(this.root, SERVICE_ENTRY_POINTS[role]);
    if (!existsSync(file)) throw new Error(`${file} is missing: run 'npm run build' in ${this.root}`);
    return file;
  }

  async start(): Promise<this> {
    const dataRoot = this.options.dataDir ?? process.env.G2S_DATA_DIR ?? '/tmp/G2S';
    this.logDir = this.options.logDir ?? join(dataRoot, 'logs');
    // a busy port is said before anything starts
    if (this.options.port) await assertPortFree(this.options.port, 'the coordinator');
    if (this.options.redisUrl) this.redisUrl = this.options.redisUrl;
    else {
      const port = await freePort();
      const persist = this.options.persist ?? false;
      const dir = persist ? join(dataRoot, 'redis') : join(this.logDir, `redis-${port}`);
      mkdirSync(dir, { recursive: true });
      if (persist) this.releaseRedisDir = claimDirectory(dir, "Redis's append-only files");
      await this.spawnLogged(
        'redis',
        `redis-${port}`,
        'redis-server',
        privateRedisArgs(port, dir, '127.0.0.1', persist),
        process.env,
        READY_LINES.redis,
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}\n(dqs needs redis-server: 'apt-get install redis-server', or give REDIS_URL)`,
        );
      });
      this.redisUrl = `redis://127.0.0.1:${port}`;
      this.options.log?.(`redis-server on ${this.redisUrl}`);
    }
    const port = this.options.port ?? (await freePort());
    const resultsPort = await freePort();
    await Promise.all([
      this.spawnLogged(
        'coordinator',
        'coordinator',
        process.execPath,
        [this.entry('coordinator')],
        this.env({ PORT: String(port) }),
        READY_LINES.coordinator,
      ),
      this.spawnLogged(
        'results',
        'results',
        process.execPath,
        [this.entry('results')],
        this.env({ PORT: String(resultsPort) }),
        READY_LINES.results,
      ),
    ]);
    this.url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < this.options.workers; i++) await this.addWorker();
    return this;
  }

  async addWorker(extraEnv: Record<string, string> = {}): Promise<Proc> {
    const name = `worker-${++this.workerCount}`;
    const env: Record<string, string> = {
      DQS_WORKER_NAME: name,
      DQS_SLOTS: String(this.options.slots ?? 1),
      ...extraEnv,
    };
    if (this.options.threads) env.DQS_THREADS = String(this.options.threads);
    return this.spawnLogged(
      'worker',
      name,
      process.execPath,
      [this.entry('worker')],
      this.env(env),
      READY_LINES.worker,
    );
  }

  workers(): Proc[] {
    return this.procs.filter(
      (p) => p.role === 'worker' && p.child.exitCode === null && p.child.signalCode === null,
    );
  }

  /** Stops every process: services first (they drain), Redis last. */
  async stop(): Promise<void> {
    this.stopping = true;
    const order = [
      ...this.procs.filter((p) => p.role !== 'redis'),
      ...this.procs.filter((p) => p.role === 'redis'),
    ];
    for (const p of order) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        p.exited.then(() => true),
        new Promise((r) => (timer = setTimeout(() => r(false), 10000))),
      ]);
      clearTimeout(timer); // a pending timer would keep the CLI alive for 10 s after the stack is down
      if (!done) p.child.kill('SIGKILL');
    }
    this.reaper?.release();
    this.reaper = undefined;
    this.releaseRedisDir?.(undefined);
    this.releaseRedisDir = undefined;
  }
}
