/**
 * The MATLAB client (clients/matlab) in GNU Octave against a real dqs: the documentation's MATLAB example,
 * g2s('-a','qs') against `dqs qs`, -kill, errors, and the same chunk bytes as the Python client.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNpy, readGrid, serializeTiff, toFloat32, writeGrid } from '@dqs/grids';
import { stoneLike } from './support/training-images';
import { TestStack, mosaicOf, startTestStack } from './support/stack';

const ROOT = join(__dirname, '..');
const TOKEN = 'matlab-client-test-token';
/** Octave 7's harmless farewell on Debian (savannah bug 62515), not an error of ours. */
const OCTAVE_EXIT_NOISE = /^error: ignoring const execution_exception& while preparing to exit\n?/gm;

const missing = ['octave-cli', 'curl'].filter(
  (cmd) => spawnSync(cmd, ['--version'], { encoding: 'utf8' }).status !== 0,
);
const describeWithOctave = missing.length ? describe.skip : describe;
if (missing.length)
  process.stdout.write(
    `skipped: the MATLAB client in GNU Octave: ${missing.join(' and ')} missing; apt-get install octave curl (scripts/setup.sh --for-tests does it as root)\n`,
  );

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a child to its end without blocking the event loop (the stack's services log through this process). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr: stderr.replace(OCTAVE_EXIT_NOISE, '') });
    });
  });
}

/** A python3 with numpy for the Python client: Debian's (python3-numpy), else the first on the PATH. */
const python = () =>
  ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import numpy']).status === 0) ?? 'python3';

/** float32 row-major, as the Octave fixtures read and write it. */
const f32 = (file: string) => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

describeWithOctave('the MATLAB client in GNU Octave', () => {
  let t: TestStack;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const octave = (code: string, timeoutMs = 120000) =>
    run('octave-cli', ['--no-gui', '--quiet', '--eval', `addpath('test/matlab'); ${code}`], env, timeoutMs);

  beforeAll(async () => {
    // a server with a token; Octave finds it in the token file (XDG_CONFIG_HOME/dqs/token), not in DQS_TOKEN
    t = await startTestStack({ workers: 2, slots: 1, env: { DQS_TOKEN: TOKEN } });
    dir = mkdtempSync(join(tmpdir(), 'dqs-matlab-'));
    mkdirSync(join(dir, 'config', 'dqs'), { recursive: true });
    writeFileSync(join(dir, 'config', 'dqs', 'token'), `${TOKEN}\n`, { mode: 0o600 });
    env = {
      ...process.env,
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, 'config'),
      DQS_URL: t.stack.url,
      DQS_TEST_DIR: dir,
    };
    for (const name of ['DQS_TOKEN', 'DQS_TOKEN_FILE', 'DQS_NAMESPACE']) delete env[name];
    // the example's base image: stone-like, 8-bit, as stone.tiff is
    const stone = stoneLike(200, 200);
    const data = Uint8Array.from(stone.data, (x) => Math.round(255 * x));
    writeFileSync(join(dir, 'stone.tiff'), serializeTiff({ shape: [200, 200], dtype: 'uint8', data }));
    // small inputs for the other tests: a 60x60 TI and a 30x30 DI with one hard datum
    const ti = stoneLike(60, 60, 5).data.map((x) => Math.round(255 * x));
    const di = new Float32Array(30 * 30).fill(NaN);
    di[3 * 30 + 4] = 0.25;
    writeFileSync(join(dir, 'ti.f32'), ti);
    writeFileSync(join(dir, 'di.f32'), di);
    writeGrid(join(dir, 'ti.npy'), { shape: [60, 60], dtype: 'float32', data: ti });
    writeGrid(join(dir, 'di.npy'), { shape: [30, 30], dtype: 'float32', data: di });
  });
  afterAll(async () => {
    await t?.stack.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // 200x200 per chunk, as the issue asks: about 80-90 CPU-seconds of the stack (measured; 100x100 takes 8-9),
  // so about 45 s of this file's time on 2 cores
  it("runs the documentation's MATLAB example with only its path line and its image file changed", async () => {
    const r = await run('octave-cli', ['--no-gui', '--quiet', 'test/matlab/run_seed_example.m'], env, 900000);
    expect(r.stderr.replace(/^dqs: qs_prep without -dt.*\n/gm, '')).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/distributed progress: 100\n/);
    const runId = /^run (\S+)$/m.exec(r.stdout)![1];
    const chunks: Record<number, Float32Array> = {};
    for (const id of [101, 102, 103, 104]) {
      expect(r.stdout).toContain(`chunk ${id} at`);
      expect(r.stdout).toMatch(new RegExp(`chunk ${id} at \\(\\d,\\d\\): single \\[200 200\\]`));
      const sim = (chunks[id] = f32(join(dir, `chunk_${id}.f32`)));
      const ti = f32(join(dir, `ti_${id}.f32`));
      const di = f32(join(dir, `di_${id}.f32`));
      expect(sim.length).toBe(200 * 200);
      const tiValues = new Set(ti);
      let hard = 0;
      for (let c = 0; c < sim.length; c++) {
        if (Number.isFinite(di[c])) {
          hard++;
          expect(sim[c]).toBe(di[c]); // hard data kept
        } else expect(tiValues.has(sim[c])).toBe(true); // every value from its own TI
      }
      expect(hard).toBeGreaterThan(0);
    }
    // MATLAB's orientation: di_101 holds the top 20 rows, di_102 the left 20 columns
    expect(Number.isFinite(f32(join(dir, 'di_101.f32'))[19 * 200 + 150])).toBe(true);
    expect(Number.isFinite(f32(join(dir, 'di_102.f32'))[150 * 200 + 19])).toBe(true);
    // job_grid=[101,102;103,104]: 102 right of 101, 103 below it, in the run's mosaic
    const mosaic = parseNpy(await mosaicOf(t.client, runId));
    expect(mosaic.shape).toEqual([400, 400]);
    const m = toFloat32(mosaic);
    const at = { 101: [0, 0], 102: [0, 200], 103: [200, 0], 104: [200, 200] } as Record<number, number[]>;
    for (const id of [101, 102, 103, 104]) {
      const [r0, c0] = at[id];
      for (const [r, c] of [
        [0, 0],
        [57, 133],
        [199, 199],
      ])
        expect(m[(r0 + r) * 400 + c0 + c]).toBe(chunks[id][r * 200 + c]);
    }
  }, 900000);

  it("g2s('-a','qs') gives the bytes of dqs qs; -submitOnly, -statusOnly, -kill; errors name what is wrong", async () => {
    const local = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bin', 'dqs.js'),
        'qs',
        ...['-ti', join(dir, 'ti.npy'), '-di', join(dir, 'di.npy'), '-dt', '0', '-k', '1.2', '-n', '20'],
        ...['-s', '7', '-ks', '21', '-o', join(dir, 'local')],
      ],
      { encoding: 'utf8' },
    );
    expect(local.status).toBe(0);
    const r = await octave('checks');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ok$/m);
    expect(r.status).toBe(0);
    const sim = readGrid(join(dir, 'local.npy'));
    const index = readGrid(join(dir, 'local.index.npy'));
    expect(Buffer.from(readFileSync(join(dir, 'octave_sim.f32')))).toEqual(
      Buffer.from(sim.data.buffer, sim.data.byteOffset, sim.data.byteLength),
    );
    expect(Buffer.from(readFileSync(join(dir, 'octave_index.u32')))).toEqual(
      Buffer.from(index.data.buffer, index.data.byteOffset, index.data.byteLength),
    );
    const killed = /^killed (\S+)$/m.exec(r.stdout)![1];
    const status = await t.client.json<{ state: string; chunks: { state: string }[] }>(
      'GET',
      `/v1/runs/${killed}`,
    );
    expect(status.state).toBe('cancelled');
  });

  it('gives the same chunk bytes as the Python client for the same inputs', async () => {
    const py = await run(
      python(),
      [join(__dirname, 'matlab', 'same_inputs.py'), dir],
      { ...env, DQS_TOKEN: TOKEN, PYTHONPATH: join(ROOT, 'clients', 'python') },
      120000,
    );
    expect(py.stderr).not.toMatch(/Traceback/);
    expect(py.status).toBe(0);
    const r = await octave('same_inputs');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const pyRun = /^run (\S+)$/m.exec(py.stdout)![1];
    const octRun = /^run (\S+)$/m.exec(r.stdout)![1];
    const octStatus = await t.client.json<{ namespace: string; batch: string }>('GET', `/v1/runs/${octRun}`);
    expect(octStatus).toMatchObject({ namespace: 'oct-same', batch: 'matlab-same' });
    for (const id of [201, 202, 203, 204]) {
      const fromPython = readGrid(join(dir, `python_chunk_${id}.npy`));
      expect(fromPython.shape).toEqual([30, 30]);
      const fromOctave = Buffer.from(readFileSync(join(dir, `octave_chunk_${id}.f32`)));
      expect(fromOctave).toEqual(
        Buffer.from(fromPython.data.buffer, fromPython.data.byteOffset, fromPython.data.byteLength),
      );
      // the same uploads (MATLAB's NPY bytes are numpy.save's), and the server wrote the same bytes for both runs
      for (const name of [`input_ti_0_${id}`, `input_di_${id}`]) {
        const sha = (ns: string) =>
          (
            JSON.parse(readFileSync(join(t.dataDir, 'names', ns, `${name}.json`), 'utf8')) as {
              sha256: string;
            }
          ).sha256;
        expect(sha('oct-same')).toBe(sha('py-same'));
      }
      const a = await t.client.bytes(`/v1/runs/${pyRun}/chunks/${id}`);
      const b = await t.client.bytes(`/v1/runs/${octRun}/chunks/${id}`);
      expect(Buffer.from(b)).toEqual(Buffer.from(a));
    }
  });
});
