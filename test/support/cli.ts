/**
 * The dqs command line as a child process, awaited without blocking the test's event loop (spawnSync would: the
 * test's HTTP client then keeps a keep-alive socket that the server closed meanwhile, and its next request fails
 * with "other side closed").
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const DQS = join(__dirname, '..', '..', 'bin', 'dqs.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runDqs(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DQS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export interface DqsUp {
  proc: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<number | null>;
}

/** `dqs up` as a child process, once it printed its URL (or a rejection with what it printed, if it ended first). */
export function startDqsUp(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 90000): Promise<DqsUp> {
  const proc = spawn(process.execPath, [DQS, 'up', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dqs up did not print its URL: ${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], output: () => out, exited });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`dqs up exited with code ${code}: ${out}`), { code, output: out }));
    });
  });
}
