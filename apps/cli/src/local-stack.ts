/**
 * A dqs stack as local processes: a private redis-server (unless a Redis URL is given), the coordinator, the
 * results service and N workers, each the same entry point docker-compose runs. Used by `dqs up`, `dqs demo`
 * and the end-to-end tests.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

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
 * Arguments of a private redis-server: loopback only (unless told which addresses to bind), nothing kept on
 * disk, no eviction (BullMQ needs that).
 */
export function privateRedisArgs(port: number | string, dir: string, bind = '127.0.0.1'): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    bind,
    '--save',
    '',
    '--appendonly',
    'no',
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
  log?: (line: string) => void;
}

interface Proc {
  role: Role | 'redis';
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

export class LocalStack {
  url = '';
  /** Bull Board login: user dqs, this password (DQS_BOARD_PASSWORD or DQS_TOKEN when set, else made here). */
  readonly boardPassword: string;
  redisUrl = '';
  readonly procs: Proc[] = [];
  private workerCount = 0;
  private readonly root = packageRoot();
  private logDir = '';

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
    timeoutMs = 30000,
  ): Promise<Proc> {
    mkdirSync(this.logDir, { recursive: true });
    const logFile = join(this.logDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(cmd, args, { cwd: this.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const proc: Proc = { role, name, child, exited };
    this.procs.push(proc);
    return new Promise((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within ${timeoutMs / 1000} s; see ${logFile}`)),
        timeoutMs,
      );
      const onData = (d: Buffer) => {
        out.write(d);
        if (seen !== null) {
          seen += d.toString();
          if (readyLine.test(seen)) {
            clearTimeout(timer);
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
        reject(new Error(`${name} exited with code ${code} while starting; see ${logFile}`));
      });
    });
  }

  private entry(role: Role): string {
    const file = join(this.root, SERVICE_ENTRY_POINTS[role]);
    if (!existsSync(file)) throw new Error(`${file} is missing: run 'npm run build' in ${this.root}`);
    return file;
  }

  async start(): Promise<this> {
    const dataRoot = this.options.dataDir ?? process.env.G2S_DATA_DIR ?? '/tmp/G2S';
    this.logDir = this.options.logDir ?? join(dataRoot, 'logs');
    if (this.options.redisUrl) this.redisUrl = this.options.redisUrl;
    else {
      const port = await freePort();
      const dir = join(this.logDir, `redis-${port}`);
      mkdirSync(dir, { recursive: true });
      await this.spawnLogged(
        'redis',
        `redis-${port}`,
        'redis-server',
        privateRedisArgs(port, dir),
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
  }
}
