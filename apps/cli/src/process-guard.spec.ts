import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reaper, assertPortFree, claimDirectory } from './process-guard';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

describe('the reaper', () => {
  it('stops the processes it watches once its pipe closes, services before Redis', async () => {
    const service = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const redis = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const reaper = new Reaper();
    reaper.watch(service.pid, 0);
    reaper.watch(redis.pid, 1);
    const ended: string[] = [];
    service.once('exit', () => ended.push('service'));
    redis.once('exit', () => ended.push('redis'));
    reaper.release(); // as when the parent dies: the pipe closes
    expect(await gone(service.pid!)).toBe(true);
    expect(await gone(redis.pid!)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(ended).toEqual(['service', 'redis']);
  });

  it('leaves alone a process it was told to forget', async () => {
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const reaper = new Reaper();
    reaper.watch(child.pid, 0);
    reaper.forget(child.pid);
    reaper.release();
    await new Promise((r) => setTimeout(r, 1000));
    expect(alive(child.pid!)).toBe(true);
    child.kill('SIGKILL');
  });
});

describe('assertPortFree', () => {
  it('names the port and what to do when it is taken', async () => {
    const srv = createServer();
    const port = await new Promise<number>((r) =>
      srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)),
    );
    try {
      await expect(assertPortFree(port, 'the coordinator')).rejects.toThrow(
        new RegExp(
          `port ${port} \\(the coordinator\\) is already in use, maybe by another dqs up: stop it, or give another port`,
        ),
      );
    } finally {
      srv.close();
    }
    await expect(assertPortFree(port, 'the coordinator')).resolves.toBeUndefined();
  });
});

describe('claimDirectory', () => {
  it('refuses a directory that a live stack or its Redis holds, and takes over one whose holders are gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dqs-claim-'));
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'dqs-stack.json'), JSON.stringify({ pid: other.pid }));
      expect(() => claimDirectory(dir, 'Redis files')).toThrow(
        new RegExp(`is used by another dqs stack \\(process ${other.pid}\\)`),
      );
      writeFileSync(join(dir, 'dqs-stack.json'), JSON.stringify({ pid: 999999999, child: other.pid }));
      expect(() => claimDirectory(dir, 'Redis files')).toThrow(
        new RegExp(
          `still used by process ${other.pid}, left by an earlier dqs stack: stop it \\(kill ${other.pid}\\)`,
        ),
      );
    } finally {
      other.kill('SIGKILL');
    }
    await gone(other.pid!);
    const record = claimDirectory(dir, 'Redis files');
    record(12345);
    record(undefined);
    expect(() => claimDirectory(dir, 'Redis files')).not.toThrow();
  });
});
