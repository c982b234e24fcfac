/**
 * End-to-end tests of the `dqs` command line, run as a real process (node bin/dqs.js) on the compiled code,
 * on a training image it writes itself (a stone-like field, as a float32 TIFF).
 */
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadGrid, readGrid, writeGrid } from '../libs/grids/src';
import { stoneLike } from './support/training-images';

const ROOT = join(__dirname, '..');
const DQS = join(ROOT, 'bin', 'dqs.js');
/** The training image of these tests, written before any test is collected (some build their argv at once). */
const INPUTS = mkdtempSync(join(tmpdir(), 'dqs-cli-inputs-'));
const STONE = join(INPUTS, 'stone.tiff');
{
  const ti = stoneLike(200, 200);
  writeGrid(STONE, { shape: ti.shape, dtype: 'float32', data: ti.data });
}
const NOT_SIMULATED = 0xffffffff;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let tmp: string;
let stone: ReadGrid;

/** Runs `dqs args...` in `cwd` (default: the temporary folder). */
function dqs(args: string[], cwd = tmp): Run {
  const r = spawnSync(process.execPath, [DQS, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh folder under the temporary folder. */
function folder(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const describeRun = (r: Run) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

function expectExit(r: Run, code: number): void {
  if (r.status !== code) throw new Error(`expected exit ${code}, got ${describeRun(r)}`);
}

/** The base simulation of the brief: stone.tiff, 40x40, k 1.2, n 20, seed 5. */
const qsArgs = (out: string, threads = 2) => [
  'qs',
  '-ti',
  STONE,
  '-di',
  '40x40',
  '-dt',
  '0',
  '-k',
  '1.2',
  '-n',
  '20',
  '-s',
  '5',
  '-j',
  String(threads),
  '-o',
  out,
  '--json',
];

beforeAll(() => {
  execSync('npm run build --silent', { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
  tmp = mkdtempSync(join(tmpdir(), 'dqs-cli-'));
  stone = readGrid(STONE);
}, 320_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  rmSync(INPUTS, { recursive: true, force: true });
});

describe('dqs qs', () => {
  let base: { run: Run; dir: string };

  beforeAll(() => {
    const dir = folder('base');
    base = { run: dqs(qsArgs(join(dir, 'out', 'sim'))), dir };
  });

  it('exits 0 and prints a JSON summary with the seed, threads, time and shape', () => {
    expectExit(base.run, 0);
    const summary = JSON.parse(base.run.stdout.trim());
    expect(summary.seed).toBe(5);
    expect(summary.threads).toBe(2);
    expect(typeof summary.seconds).toBe('number');
    expect(summary.seconds).toBeGreaterThan(0);
    expect(summary.shape).toEqual([40, 40]);
    expect(summary.simulated).toBe(1600);
    expect(summary.outputs).toEqual({
      sim: join(base.dir, 'out', 'sim.npy'),
      index: join(base.dir, 'out', 'sim.index.npy'),
      preview: join(base.dir, 'out', 'sim.png'),
    });
  });

  it('writes sim.npy (float32 40x40), sim.index.npy (uint32 40x40) and a PNG preview', () => {
    expectExit(base.run, 0);
    const out = join(base.dir, 'out');
    const sim = readGrid(join(out, 'sim.npy'));
    expect(sim.shape).toEqual([40, 40]);
    expect(sim.dtype).toBe('float32');
    const index = readGrid(join(out, 'sim.index.npy'));
    expect(index.shape).toEqual([40, 40]);
    expect(index.dtype).toBe('uint32');
    const png = readFileSync(join(out, 'sim.png'));
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // 40x40 cells, upscaled 10 times: 400x400 pixels (IHDR width and height)
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([400, 400]);
  });

  it('every simulated value is the TI value at its index', () => {
    expectExit(base.run, 0);
    const sim = readGrid(join(base.dir, 'out', 'sim.npy'));
    const index = readGrid(join(base.dir, 'out', 'sim.index.npy'));
    let wrong = 0;
    const distinct = new Set<number>();
    for (let i = 0; i < 1600; i++) {
      const at = index.data[i];
      expect(at).toBeLessThan(200 * 200);
      distinct.add(at);
      if (sim.data[i] !== stone.data[at]) wrong++;
    }
    expect(wrong).toBe(0);
    // values come from many places in the TI, not one cell copied everywhere
    expect(distinct.size).toBeGreaterThan(400);
    for (const v of sim.data) expect(Number.isFinite(v)).toBe(true);
  });

  it('the same command twice gives byte-identical outputs, and -j 1 gives the same as -j 2', () => {
    expectExit(base.run, 0);
    const first = readFileSync(join(base.dir, 'out', 'sim.npy'));
    const firstIndex = readFileSync(join(base.dir, 'out', 'sim.index.npy'));
    const again = folder('again');
    expectExit(dqs(qsArgs(join(again, 'sim'))), 0);
    expect(readFileSync(join(again, 'sim.npy')).equals(first)).toBe(true);
    expect(readFileSync(join(again, 'sim.index.npy')).equals(firstIndex)).toBe(true);

    const one = folder('one-thread');
    const r1 = dqs(qsArgs(join(one, 'a'), 1));
    expectExit(r1, 0);
    expect(JSON.parse(r1.stdout).threads).toBe(1);
    expectExit(dqs(qsArgs(join(one, 'b'), 1)), 0);
    const a = readFileSync(join(one, 'a.npy'));
    expect(readFileSync(join(one, 'b.npy')).equals(a)).toBe(true);
    expect(a.equals(first)).toBe(true);
  });

  it('another seed gives another simulation', () => {
    expectExit(base.run, 0);
    const dir = folder('seed6');
    const args = qsArgs(join(dir, 'sim'));
    args[args.indexOf('-s') + 1] = '6';
    const r = dqs(args);
    expectExit(r, 0);
    expect(JSON.parse(r.stdout).seed).toBe(6);
    expect(readFileSync(join(dir, 'sim.npy')).equals(readFileSync(join(base.dir, 'out', 'sim.npy')))).toBe(
      false,
    );
  });

  it('keeps hard data of a DI file exactly', () => {
    const dir = folder('hard');
    const di = new Float32Array(30 * 30).fill(NaN);
    const cells: Array<[number, number, number]> = [
      [0, 0, 0.123456789],
      [7, 11, 0.9],
      [15, 15, 0],
      [29, 29, 1],
      [20, 3, 0.333],
    ];
    const hard = cells.map(([r, c, v]): [number, number] => [r * 30 + c, v]);
    for (const [i, v] of hard) di[i] = v;
    const diFile = join(dir, 'di.npy');
    writeGrid(diFile, { shape: [30, 30], dtype: 'float32', data: di });
    const r = dqs([
      'qs',
      '-ti',
      STONE,
      '-di',
      diFile,
      '-dt',
      '0',
      '-k',
      '1.5',
      '-n',
      '12',
      '-s',
      '42',
      '-o',
      join(dir, 'sim'),
      '--json',
    ]);
    expectExit(r, 0);
    const summary = JSON.parse(r.stdout);
    expect(summary.shape).toEqual([30, 30]);
    expect(summary.simulated).toBe(900 - hard.length);
    const sim = readGrid(join(dir, 'sim.npy'));
    const index = readGrid(join(dir, 'sim.index.npy'));
    for (const [i, v] of hard) {
      expect(sim.data[i]).toBe(Math.fround(v));
      expect(index.data[i]).toBe(NOT_SIMULATED);
    }
    for (let i = 0; i < 900; i++) {
      if (!Number.isNaN(di[i])) continue;
      expect(index.data[i]).toBeLessThan(40000);
      expect(sim.data[i]).toBe(stone.data[index.data[i]]);
    }
  });
});

describe('dqs stats', () => {
  it('compares a simulation with the TI: JSON figures and a PNG report', () => {
    const dir = folder('stats');
    expectExit(
      dqs([
        'qs',
        '-ti',
        STONE,
        '-di',
        '40x40',
        '-dt',
        '0',
        '-k',
        '1.2',
        '-n',
        '20',
        '-s',
        '5',
        '-o',
        join(dir, 'sim'),
        '--quiet',
      ]),
      0,
    );
    const report = join(dir, 'report.png');
    const r = dqs([
      'stats',
      '--ti',
      STONE,
      '--sim',
      join(dir, 'sim.npy'),
      '--index',
      join(dir, 'sim.index.npy'),
      '-o',
      report,
      '--json',
    ]);
    expectExit(r, 0);
    const json = JSON.parse(r.stdout);
    expect(json.kind).toBe('continuous');
    expect(json.shape).toEqual([40, 40]);
    expect(typeof json.ks).toBe('number');
    expect(json.ks).toBeGreaterThan(0);
    expect(json.ks).toBeLessThan(1);
    expect(json.verbatimAdjacency).toEqual({ h: expect.any(Number), v: expect.any(Number) });
    for (const f of [json.verbatimAdjacency.h, json.verbatimAdjacency.v]) {
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThanOrEqual(1);
    }
    expect(json.report).toBe(report);
    const png = readFileSync(report);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(statSync(report).size).toBeGreaterThan(10 * 1024);
  });
});

describe('bad inputs exit with 2 and say what is wrong', () => {
  const base = ['qs', '-ti', STONE, '-di', '20x20', '-dt', '0', '-k', '1.2', '-n', '10', '-s', '1'];
  const without = (flag: string, count = 1) => {
    const args = [...base];
    const at = args.indexOf(flag);
    if (at >= 0) args.splice(at, count + 1);
    return args;
  };
  const replace = (flag: string, ...values: string[]) => {
    const args = without(flag);
    return [...args, flag, ...values];
  };

  /** Runs a failing command in its own folder and checks exit 2, the stderr message, and that nothing was written. */
  function fails(name: string, args: string[], ...patterns: Array<RegExp | string>): void {
    const dir = folder(`bad-${name}`);
    const r = dqs([...args, '-o', join(dir, 'out', 'sim')], dir);
    expectExit(r, 2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^dqs qs: error: /);
    expect(r.stderr).not.toMatch(/unexpected failure|\n\s+at /); // a message, not a stack trace
    for (const p of patterns) {
      if (typeof p === 'string') expect(r.stderr).toContain(p);
      else expect(r.stderr).toMatch(p);
    }
    expect(existsSync(join(dir, 'out'))).toBe(false);
  }

  it('the base command itself succeeds (so that each case below fails for its own reason)', () => {
    const dir = folder('bad-base');
    expectExit(dqs([...base, '--quiet', '-o', join(dir, 'sim')], dir), 0);
    expect(existsSync(join(dir, 'sim.npy'))).toBe(true);
  });

  it('missing -dt', () => fails('no-dt', without('-dt'), /-dt is required/));

  it('-k 0.5', () => fails('k', replace('-k', '0.5'), /-k must be/, '0.5'));

  it('-n 0', () => fails('n', replace('-n', '0'), /-n must be/, '(got 0)'));

  it('an unknown flag -foo', () => fails('foo', [...base, '-foo', '3'], 'unknown flag -foo'));

  it('a -ti file that does not exist', () => {
    const missing = join(tmp, 'nowhere', 'missing-ti.tiff');
    fails('missing-ti', replace('-ti', missing), `${missing}: no such file`);
  });

  it('-dt 0 0 with a single-variable TI', () =>
    fails('dt-vars', replace('-dt', '0', '0'), STONE, /-dt lists 2 variables/, /one sample per pixel/));

  it('a 3-D kernel (-ki) against a 2-D TI', () => {
    const kernel = join(folder('kernel'), 'k3.npy');
    writeGrid(kernel, { shape: [3, 3, 3], dtype: 'float32', data: new Float32Array(27).fill(1) });
    fails('ki', [...base, '-ki', kernel], /-ki/);
  });

  it('a 3-D DI size (-di 10x10x10) with a 2-D TI', () =>
    fails('di3', replace('-di', '10x10x10'), /3D/, /2D/, /same number of spatial axes/));

  it('an all-NaN TI', () => {
    const ti = join(folder('nan-ti'), 'all-nan.npy');
    writeGrid(ti, { shape: [30, 30], dtype: 'float32', data: new Float32Array(900).fill(NaN) });
    fails('nan-ti', replace('-ti', ti), ti, /NaN/);
  });

  it('missing -ti, a value where none is expected, and -j -1', () => {
    fails('no-ti', without('-ti'), /-ti is required/);
    fails('positional', ['qs', 'stray', ...base.slice(1)], /unexpected argument/, 'stray');
    fails('j', replace('-j', '-1'), /-j must be/);
  });
});

describe('help and commands', () => {
  it('dqs --help prints the usage and exits 0', () => {
    const r = dqs(['--help']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/usage: dqs <command>/);
    for (const c of ['qs', 'stats', 'demo']) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\s`, 'm'));
  });

  it('dqs qs --help prints the qs flags and exits 0', () => {
    const r = dqs(['qs', '--help']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/^dqs qs:/);
    for (const flag of ['-ti', '-di', '-dt', '-k', '-n', '-s', '-j', '-ki', '-o'])
      expect(r.stdout).toContain(`  ${flag} `);
  });

  it('dqs stats --help exits 0', () => {
    const r = dqs(['stats', '--help']);
    expectExit(r, 0);
    expect(r.stdout).toMatch(/--sim FILE/);
  });

  it('an unknown command exits 2 and names it', () => {
    const r = dqs(['simulate-everything']);
    expectExit(r, 2);
    expect(r.stderr).toContain("unknown command 'simulate-everything'");
    expect(r.stderr).toMatch(/usage: dqs <command>/);
    expect(r.stdout).toBe('');
  });

  it('dqs without a command prints the usage and exits 2', () => {
    const r = dqs([]);
    expectExit(r, 2);
    expect(r.stdout).toMatch(/usage: dqs <command>/);
  });
});
