/**
 * Faults, end to end against real processes: Redis, each service, the whole stack and the `dqs up` parent killed
 * (SIGKILL) or stopped (SIGTERM) in the middle of a run, with dqs up's settings (Redis with an append-only file,
 * processes started again when they die). Each time the run completes with the bytes of an uninterrupted run.
 * And a run whose record is really gone (Redis restarted without persistence) is reported failed, its chunks are
 * dropped and its keys swept. The matrix of scenarios survived is printed at the end.
 */
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DqsClient, DqsServerError } from '../apps/cli/src/dqs-client';
import { freePort } from '../apps/cli/src/local-stack';
import { DqsUp, startDqsUp } from './support/cli';
import { TestStack, nd, startTestStack } from './support/stack';
import { stoneLike } from './support/training-images';

const TILE = 40;
const stone = stoneLike(80, 80);
const RUN = {
  dt: [0],
  k: 1.2,
  n: [20],
  s: 100,
  j: 1,
  ks: [21],
  jg: [
    [1, 2],
    [3, 4],
  ],
};
const FINAL = ['completed', 'failed', 'cancelled'];

interface Status {
  state: string;
  progress: number;
  error?: string;
  chunks: { jobId: string; state: string; worker?: string }[];
}

const matrix: string[] = [];
let reference: Buffer | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call that may meet a service being restarted: tried again while the server is unreachable or unavailable. */
async function tolerant<T>(call: () => Promise<T>, limitMs = 90000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      return await call();
    } catch (e) {
      const down = e instanceof DqsServerError && (e.status === 0 || e.status >= 500);
      if (!down || Date.now() - t0 > limitMs) throw e;
      await sleep(200);
    }
  }
}

const status = (c: DqsClient, runId: string) => tolerant(() => c.json<Status>('GET', `/v1/runs/${runId}`));

async function until(c: DqsClient, runId: string, done: (s: Status) => boolean, limitMs = 180000) {
  const t0 = Date.now();
  for (;;) {
    const s = await status(c, runId);
    if (done(s)) return s;
    if (Date.now() - t0 > limitMs) throw new Error(`run ${runId}: still ${s.state} (${s.progress}%)`);
    await sleep(150);
  }
}

/** Cells are being written (the run is under way, not finished). */
const progressing = (c: DqsClient, runId: string) =>
  until(c, runId, (s) => s.progress > 0 || FINAL.includes(s.state));

const mosaic = async (c: DqsClient, runId: string) =>
  Buffer.from(await tolerant(() => c.bytes(`/v1/runs/${runId}/mosaic?wait=true`)));

async function prepare(c: DqsClient): Promise<void> {
  const ti = await c.uploadArray(nd([80, 80], stone.data));
  const di = await c.uploadArray(nd([TILE, TILE], new Float32Array(TILE * TILE).fill(NaN)));
  for (const id of [1, 2, 3, 4]) await c.json('POST', '/v1/prep', { id, ti: [ti], di, dt: [0] });
}

const submit = async (c: DqsClient) => (await c.json<{ runId: string }>('POST', '/v1/runs', RUN)).runId;

/** Runs to its end and checks the bytes; a line of the matrix. */
async function completesWithSameBytes(c: DqsClient, runId: string, scenario: string): Promise<void> {
  const s = await until(c, runId, (x) => FINAL.includes(x.state));
  expect(s.state).toBe('completed');
  const same = (await mosaic(c, runId)).equals(reference!);
  expect(same).toBe(true);
  matrix.push(`${scenario.padEnd(58)} completed, same bytes`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Child processes of a process (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function allGone(pids: number[], limitMs = 30000): Promise<boolean> {
  const t0 = Date.now();
  while (pids.some(alive) && Date.now() - t0 < limitMs) await sleep(100);
  return !pids.some(alive);
}

afterAll(() => {
  process.stdout.write(`\nfault matrix (test/faults.spec.ts):\n  ${matrix.join('\n  ')}\n`);
});

/** The role of one of dqs up's children, from its command line. */
function roleOf(pid: number): string | undefined {
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  if (cmd.includes('redis-server')) return 'redis';
  return /apps\/(coordinator|results|worker)\/src\/main\.js/.exec(cmd)?.[1];
}

const childrenIn = (up: DqsUp, role: string) => childrenOf(up.proc.pid!).filter((p) => roleOf(p) === role);

describe('dqs up under faults: Redis, each service, the whole stack, the parent', () => {
  let dir = '';
  let port = 0;
  let env: NodeJS.ProcessEnv = {};
  let up: DqsUp;
  let c: DqsClient;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dqs-faults-up-'));
    port = await freePort();
    env = {
      ...process.env,
      G2S_DATA_DIR: join(dir, 'g2s'),
      REDIS_URL: '',
      DQS_URL: '',
      DQS_LOCK_DURATION_MS: '4000',
      DQS_STALLED_INTERVAL_MS: '2000',
    };
    up = await start();
    c = new DqsClient(up.url);
    await prepare(c);
    const runId = await submit(c);
    expect((await until(c, runId, (s) => FINAL.includes(s.state))).state).toBe('completed');
    reference = await mosaic(c, runId);
  });
  afterAll(async () => {
    if (up?.proc.exitCode === null) {
      up.proc.kill('SIGINT');
      await up.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const start = () => startDqsUp(['--workers', '2', '--port', String(port)], env);

  /** Stops processes of dqs up by signal mid-run; dqs up starts them again; the run completes. */
  async function killMidRun(roles: string[], signal: NodeJS.Signals): Promise<void> {
    const runId = await submit(c);
    await progressing(c, runId);
    const victims = roles.map((role) => childrenIn(up, role)[0]);
    for (const pid of victims) process.kill(pid, signal);
    expect(await allGone(victims)).toBe(true);
    // started again, under new process ids
    while (roles.some((role, k) => !childrenIn(up, role).some((p) => p !== victims[k]))) await sleep(100);
    await completesWithSameBytes(c, runId, `${roles.join(' + ')} ${signal} mid-run`);
  }

  it('Redis killed (SIGKILL) or stopped (SIGTERM) mid-run: started again from its file, same bytes', async () => {
    await killMidRun(['redis'], 'SIGKILL');
    await killMidRun(['redis'], 'SIGTERM');
  });

  it('the coordinator, the results service and a worker, killed or stopped mid-run: same bytes', async () => {
    await killMidRun(['coordinator', 'results', 'worker'], 'SIGKILL');
    await killMidRun(['coordinator', 'results', 'worker'], 'SIGTERM');
  });

  it('the whole stack SIGKILLed, or stopped with SIGTERM, mid-run: the next dqs up resumes the run to the same bytes', async () => {
    // every process at once, as an out-of-memory killer or a crash would
    const killed = await submit(c);
    await progressing(c, killed);
    const stack = [up.proc.pid!, ...childrenOf(up.proc.pid!)];
    for (const pid of stack) process.kill(pid, 'SIGKILL');
    expect(await allGone(stack)).toBe(true);
    up = await start();
    c = new DqsClient(up.url);
    await completesWithSameBytes(c, killed, 'whole stack SIGKILL mid-run, then dqs up again');
    // a clean stop (Ctrl-C or SIGTERM): services drain, Redis writes its file
    const stopped = await submit(c);
    await progressing(c, stopped);
    const children = childrenOf(up.proc.pid!);
    up.proc.kill('SIGTERM');
    await up.exited;
    expect(await allGone(children)).toBe(true);
    up = await start();
    c = new DqsClient(up.url);
    await completesWithSameBytes(c, stopped, 'whole stack SIGTERM mid-run, then dqs up again');
  });

  it('the dqs up parent SIGKILLed: its children end, and the next dqs up works and resumes the run', async () => {
    const runId = await submit(c);
    await progressing(c, runId);
    const children = childrenOf(up.proc.pid!);
    // redis, coordinator, results, 2 workers and the reaper
    expect(children.map(roleOf).filter(Boolean).sort()).toEqual([
      'coordinator',
      'redis',
      'results',
      'worker',
      'worker',
    ]);
    up.proc.kill('SIGKILL');
    await up.exited;
    expect(await allGone(children)).toBe(true);
    up = await start();
    c = new DqsClient(up.url);
    await completesWithSameBytes(c, runId, 'dqs up parent SIGKILL mid-run (children end), then dqs up');
  });

  it('a second dqs up on a busy port, or on a data directory in use, says so on its own terminal', async () => {
    const busy = await start().then(
      () => 'started',
      (e: Error & { code?: number; output?: string }) => e,
    );
    expect(busy).not.toBe('started');
    const refused = busy as Error & { code?: number; output?: string };
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(
      new RegExp(`dqs up: cannot start: port ${port} \\(the coordinator\\) is already in use`),
    );
    const other = await startDqsUp(['--workers', '0', '--port', String(await freePort())], env).then(
      () => 'started',
      (e: Error & { output?: string }) => e.output ?? e.message,
    );
    expect(other).toMatch(
      /is used by another dqs stack \(process \d+\): stop it, or use another data directory/,
    );
    matrix.push(
      `${'second dqs up: busy port / data directory in use'.padEnd(58)} refused, said on its terminal`,
    );
  });
});

describe('a run whose record is gone (Redis restarted without persistence)', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1, restart: true, env: { DQS_SWEEP_SECONDS: '1' } });
    await prepare(t.client);
  });
  afterAll(async () => {
    await t?.stack.stop();
  });

  it('is reported failed, not unknown; workers drop its chunks within seconds; its keys are swept', async () => {
    const runId = await submit(t.client);
    await progressing(t.client, runId);
    const redisProc = t.stack.procs.find((p) => p.role === 'redis')!;
    redisProc.child.kill('SIGKILL');
    await redisProc.exited;
    while (redisProc.restarts === 0) await sleep(100);
    await redisProc.ready;
    const s = await status(t.client, runId);
    expect(s.state).toBe('failed');
    expect(s.error).toMatch(/the run's record is gone from Redis .*submit it again/);
    // no worker holds a chunk of it any more (the registry is refreshed every 3 s)
    const t0 = Date.now();
    for (;;) {
      const workers = await tolerant(() =>
        t.client.json<{ name: string; chunks: { runId: string }[] }[]>('GET', '/v1/workers'),
      );
      if (workers.length === 2 && workers.every((w) => w.chunks.every((ch) => ch.runId !== runId))) break;
      if (Date.now() - t0 > 30000) throw new Error(`workers still hold ${runId}: ${JSON.stringify(workers)}`);
      await sleep(200);
    }
    const logs = t.stack.procs
      .filter((p) => p.role === 'worker')
      .map((p) => readFileSync(join(t.dataDir, '..', 'logs', `${p.name}.log`), 'utf8'))
      .join('\n');
    expect(logs).toMatch(new RegExp(`Redis reconnected|run ${runId} is gone from Redis`));
    // what workers wrote after the loss (streams, logs, states) is swept
    const redis = new Redis(t.stack.redisUrl);
    try {
      for (let i = 0; (await redis.keys(`dqs:{${runId}}:*`)).length > 0; i++) {
        if (i > 200)
          throw new Error(`keys of ${runId} left: ${(await redis.keys(`dqs:{${runId}}:*`)).join(' ')}`);
        await sleep(100);
      }
    } finally {
      redis.disconnect();
    }
    // and it stays failed
    expect((await status(t.client, runId)).state).toBe('failed');
    matrix.push(
      `${'Redis restarted WITHOUT persistence: record gone'.padEnd(58)} failed, chunks dropped, keys swept`,
    );
  });
});
