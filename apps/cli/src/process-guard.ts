/**
 * Keeping a local stack's processes tied to the command that started them:
 *  - a reaper: a small detached process that holds a pipe from the parent and, when the pipe closes (the parent
 *    ended, even by SIGKILL), stops every child the parent told it about: services first (SIGTERM: workers
 *    drain), Redis last, SIGKILL after a grace period;
 *  - a check that a TCP port is free, before anything starts, with an error that says what to do;
 *  - a claim on a directory (Redis's append-only files), so that two stacks never share one.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The reaper's program (plain JavaScript for `node -e`: no build step, no file to find). */
const REAPER = `
const stages = new Map();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (let nl = buf.indexOf('\\n'); nl >= 0; nl = buf.indexOf('\\n')) {
    const [verb, pid, stage] = buf.slice(0, nl).split(' ');
    buf = buf.slice(nl + 1);
    if (verb === 'watch') stages.set(Number(pid), Number(stage));
    else stages.delete(Number(pid));
  }
});
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const signal = (pid, sig) => { try { process.kill(-pid, sig); } catch { try { process.kill(pid, sig); } catch {} } };
process.stdin.on('end', async () => {
  for (const stage of [...new Set(stages.values())].sort()) {
    const pids = [...stages].filter(([, s]) => s === stage).map(([p]) => p).filter(alive);
    pids.forEach((p) => signal(p, 'SIGTERM'));
    for (let t = 0; t < 100 && pids.some(alive); t++) await new Promise((r) => setTimeout(r, 100));
    pids.filter(alive).forEach((p) => signal(p, 'SIGKILL'));
  }
  process.exit(0);
});
`;

/** Stages: services stop first, Redis last. */
export type ReapStage = 0 | 1;

export class Reaper {
  private readonly child: ChildProcess;

  constructor() {
    this.child = spawn(process.execPath, ['-e', REAPER], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.child.unref();
    // the pipe must not keep the parent alive either
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
    this.child.stdin!.on('error', () => undefined);
  }

  watch(pid: number | undefined, stage: ReapStage): void {
    if (pid) this.child.stdin!.write(`watch ${pid} ${stage}\n`);
  }

  forget(pid: number | undefined): void {
    if (pid) this.child.stdin!.write(`forget ${pid}\n`);
  }

  /** The parent stopped its children itself: the reaper ends. */
  release(): void {
    this.child.stdin!.end();
  }
}

/** Throws a clear error when something already listens on the port (on any address). */
export async function assertPortFree(port: number, what: string): Promise<void> {
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    const problem = await new Promise<string | undefined>((resolve) => {
      const srv = createServer();
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      srv.listen(port, host, () => srv.close(() => resolve(undefined)));
    });
    if (problem === 'EADDRINUSE')
      throw new Error(
        `port ${port} (${what}) is already in use, maybe by another dqs up: stop it, or give another port (--port)`,
      );
    if (problem === 'EACCES')
      throw new Error(`port ${port} (${what}) needs privileges: give a port above 1023 (--port)`);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const LOCK_FILE = 'dqs-stack.json';

/**
 * Claims a directory for this process and the child that will use it (Redis and its append-only files); refuses
 * it while an earlier claimant or its child still lives. Returns a function that records the child's pid.
 */
export function claimDirectory(dir: string, what: string): (childPid: number | undefined) => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  if (existsSync(file)) {
    let owner: { pid?: number; child?: number } = {};
    try {
      owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner;
    } catch {
      /* unreadable: a torn write, treated as free */
    }
    if (owner.pid && owner.pid !== process.pid && alive(owner.pid))
      throw new Error(
        `${dir} (${what}) is used by another dqs stack (process ${owner.pid}): stop it, or use another data directory (G2S_DATA_DIR)`,
      );
    if (owner.child && alive(owner.child))
      throw new Error(
        `${dir} (${what}) is still used by process ${owner.child}, left by an earlier dqs stack: stop it (kill ${owner.child})`,
      );
  }
  const write = (child?: number) => writeFileSync(file, JSON.stringify({ pid: process.pid, child }));
  write();
  return (child) => (child ? write(child) : rmSync(file, { force: true }));
}
