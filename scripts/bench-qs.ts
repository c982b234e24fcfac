/**
 * npm run bench: `dqs qs` on a table of cases, each in its own process, several times; medians of wall time,
 * CPU time (user + sys of the whole process, every thread), CPU ms per simulated cell and peak memory (max
 * RSS), with the ratio to G2S's CPU seconds measured on this machine where there is one.
 *   node dist/scripts/bench-qs.js [--repeat N] [--cases name,name] [--dqs path/to/bin/dqs.js]
 * Inputs: the training images of DQS_TEST_DATA (default ../shared) when present, else stand-ins made here
 * (same sizes and kinds; the G2S ratios then compare different images and only say roughly where dqs is).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeGrid } from '@dqs/grids';
import { channelsImage, smoothField } from '../apps/cli/src/demo-images';

const root = join(__dirname, '..', '..');
const testData = resolve(process.env.DQS_TEST_DATA || join(root, '..', 'shared'));
const images = join(testData, 'training-images');
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const repeat = Number(opt('--repeat', '3'));
const dqs = resolve(opt('--dqs', join(root, 'bin', 'dqs.js')));
const only = opt('--cases', '');

interface Case {
  name: string;
  ti: string;
  di: string;
  dt: string;
  n: number;
  j: number;
  /** G2S's CPU seconds (user + sys) for this case on this machine. */
  g2s?: number;
}

const dir = mkdtempSync(join(tmpdir(), 'dqs-bench-'));
const real = existsSync(join(images, 'stone.tiff'));

/** A shared training image, or a stand-in of the same size and kind written to the bench's folder. */
function input(file: string, make: () => { shape: number[]; data: Float32Array }): string {
  if (real) return join(images, file);
  const out = join(dir, file.replace(/\.\w+$/, '.npy'));
  if (!existsSync(out)) {
    const g = make();
    writeGrid(out, { shape: g.shape, dtype: 'float32', data: g.data });
  }
  return out;
}
const field = (rows: number, cols: number, seed: number) => ({
  shape: [rows, cols],
  data: smoothField(rows, cols, seed),
});
const stone = input('stone.tiff', () => field(200, 200, 11));
const strebelle = input('strebelle.tiff', () => ({ shape: [250, 250], data: channelsImage(250, 250, 7) }));
const gaussian = input('gaussianTI.tiff', () => field(500, 500, 13));
const damier = input('Damier3D.tiff', () => {
  const s = 50;
  const data = new Float32Array(s * s * s);
  for (let i = 0; i < data.length; i++) {
    const x = i % s;
    const y = Math.floor(i / s) % s;
    const z = Math.floor(i / (s * s));
    data[i] = (Math.floor(x / 5) + Math.floor(y / 5) + Math.floor(z / 5)) % 2;
  }
  return { shape: [s, s, s], data };
});
const threeVars = input('ti_3_variables.tiff', () => {
  const s = 490;
  const planes = [21, 22, 23].map((seed) => smoothField(s, s, seed));
  const data = new Float32Array(s * s * 3);
  for (let i = 0; i < s * s; i++) for (let v = 0; v < 3; v++) data[3 * i + v] = planes[v][i];
  return { shape: [s, s, 3], data };
});

const cases: Case[] = [
  { name: 'stone 200x200 n50 -j 1', ti: stone, di: '200x200', dt: '0', n: 50, j: 1, g2s: 18.6 },
  { name: 'stone 200x200 n50 -j 2', ti: stone, di: '200x200', dt: '0', n: 50, j: 2, g2s: 18.2 },
  { name: 'strebelle categorical', ti: strebelle, di: '200x200', dt: '1', n: 50, j: 2, g2s: 33.5 },
  { name: 'stone n200', ti: stone, di: '200x200', dt: '0', n: 200, j: 2, g2s: 24.4 },
  { name: 'stone n500', ti: stone, di: '200x200', dt: '0', n: 500, j: 2 },
  { name: 'TI 500x500 (gaussian)', ti: gaussian, di: '200x200', dt: '0', n: 50, j: 2, g2s: 117.1 },
  { name: '3D Damier 50^3', ti: damier, di: '50x50x50', dt: '1', n: 50, j: 2 },
  { name: '3 variables 490x490', ti: threeVars, di: '200x200', dt: '0 0 0', n: 50, j: 2 },
  { name: 'stone DI 400x400', ti: stone, di: '400x400', dt: '0', n: 50, j: 2, g2s: 74.5 },
  { name: 'stone DI 1000x1000', ti: stone, di: '1000x1000', dt: '0', n: 50, j: 2 },
].filter((c) => !only || only.split(',').some((o) => c.name.includes(o)));

interface Measure {
  wall: number;
  cpu: number;
  rssMB: number;
  simulated: number;
}

/** Runs dqs's CLI in a child process that reports its own CPU time and peak RSS when it ends. */
function runOnce(c: Case): Promise<Measure> {
  const argv = ['qs', '-ti', c.ti, '-di', c.di, '-dt', ...c.dt.split(' '), '-k', '1.2', '-n', String(c.n)];
  argv.push('-s', '100', '-j', String(c.j), '-o', join(dir, 'sim'), '--json', '--quiet');
  const probe =
    `const argv = ${JSON.stringify(argv)};` +
    `process.on('exit', () => { const u = process.resourceUsage();` +
    `process.stderr.write('\\nBENCH ' + JSON.stringify({ cpu: (u.userCPUTime + u.systemCPUTime) / 1e6, rss: u.maxRSS }) + '\\n'); });` +
    `process.argv.splice(2, process.argv.length, ...argv); require(${JSON.stringify(dqs)});`;
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', probe, dqs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((done, fail) =>
    child.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      const report = /BENCH (.*)/.exec(err);
      if (code !== 0 || !report) return fail(new Error(`${c.name}: dqs qs exited with ${code}\n${err}`));
      const usage = JSON.parse(report[1]) as { cpu: number; rss: number };
      const summary = JSON.parse(out.trim().split('\n').pop()!) as { simulated: number };
      done({ wall, cpu: usage.cpu, rssMB: usage.rss / 1024, simulated: summary.simulated });
    }),
  );
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const pad = (s: string, n: number) => s.padStart(n);

async function main(): Promise<void> {
  console.log(
    `dqs qs (${dqs}), k 1.2, seed 100; ${repeat} run(s) per case, medians; inputs: ` +
      (real ? images : `stand-ins made by the bench (no training images in ${images})`) +
      '\n',
  );
  console.log('case                      wall s   CPU s  CPU ms/cell  peak MB   G2S CPU s  dqs/G2S (CPU)');
  for (const c of cases) {
    const runs: Measure[] = [];
    for (let r = 0; r < repeat; r++) runs.push(await runOnce(c));
    const cpu = median(runs.map((m) => m.cpu));
    const cells = runs[0].simulated;
    console.log(
      `${c.name.padEnd(24)} ${pad(median(runs.map((m) => m.wall)).toFixed(2), 7)} ${pad(cpu.toFixed(2), 7)}` +
        ` ${pad(((1000 * cpu) / cells).toFixed(3), 12)} ${pad(median(runs.map((m) => m.rssMB)).toFixed(0), 8)}` +
        ` ${pad(c.g2s ? c.g2s.toFixed(1) : '-', 11)} ${pad(c.g2s ? (cpu / c.g2s).toFixed(2) : '-', 14)}`,
    );
  }
  console.log(
    '\nwall and CPU: the whole dqs process (start, read, simulate, write). G2S CPU s: user + sys of G2S qs on this' +
      '\nmachine (issue 13). On a shared machine compare CPU times and ratios within one run, not wall times.',
  );
}

main()
  .catch((e: Error) => {
    console.error(e.message);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
