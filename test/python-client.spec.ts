/** The Python client (clients/python) against a real dqs: the seed's Python example, and g2s('-a', 'qs'). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGrid, writeGrid } from '@dqs/grids';
import { stoneLike } from './support/training-images';
import { TestStack, startTestStack } from './support/stack';

/** Debian's python3 with python3-numpy, else any python3 with numpy. */
function python(): string {
  for (const p of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(p, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0) return p;
  }
  throw new Error('no python3 with numpy: apt-get install python3-numpy');
}

describe('the Python client', () => {
  let t: TestStack;
  let dir: string;
  let baseTi: string;
  const py = (args: string[]) =>
    spawnSync(python(), args, {
      encoding: 'utf8',
      timeout: 300000,
      env: { ...process.env, PYTHONPATH: join(__dirname, '..', 'clients', 'python'), DQS_URL: t.stack.url },
    });
  beforeAll(async () => {
    t = await startTestStack({ workers: 2, slots: 1 });
    dir = mkdtempSync(join(tmpdir(), 'dqs-py-'));
    // the example's base image (stone scaled to 0..255, as G2S's reference runs did), made here
    const stone = stoneLike(200, 200);
    baseTi = join(dir, 'base_ti.npy');
    writeGrid(baseTi, { shape: stone.shape, dtype: 'float32', data: stone.data.map((x) => 255 * x) });
  });
  afterAll(async () => {
    await t?.stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the seed's Python example with only its import line changed", () => {
    const r = py([join(__dirname, 'python', 'seed_example.py'), baseTi, '96', dir]);
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/distributed progress: 100/);
    for (const id of [101, 102, 103, 104]) {
      const sim = readGrid(join(dir, `chunk_${id}.npy`));
      const ti = readGrid(join(dir, `ti_${id}.npy`));
      const di = readGrid(join(dir, `di_${id}.npy`));
      expect(sim.shape).toEqual([96, 96]); // numpy orientation kept, cropped to the tile
      const tiValues = new Set(Array.from(ti.data, (v) => Math.fround(v)));
      for (let c = 0; c < sim.data.length; c++) {
        if (Number.isFinite(di.data[c])) expect(sim.data[c]).toBe(Math.fround(di.data[c]));
        else expect(tiValues.has(sim.data[c])).toBe(true);
      }
    }
  });

  it("g2s('-a', 'qs'), -statusOnly as (progress, id), -kill and errors", () => {
    const r = py([join(__dirname, 'python', 'checks.py'), baseTi]);
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.stdout.trim()).toBe('ok');
    expect(r.status).toBe(0);
  });
});
