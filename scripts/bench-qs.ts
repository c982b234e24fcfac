/**
 * npm run bench: `dqs qs` on stone.tiff, DI 200x200, k 1.2, seed 100, as G2S's reference timings were taken,
 * with -j 1 and -j 2 (n 50), and an n 200 case. Each case runs in its own process, several times; medians.
 *   node dist/scripts/bench-qs.js [--repeat N] [--ti FILE]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const shared = process.env.DQS_TEST_DATA || join(root, '..', 'shared'); // the shared test data (DQS_TEST_DATA)
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const repeat = Number(opt('--repeat', '3'));
const ti = opt('--ti', join(shared, 'training-images', 'stone.tiff'));
if (!existsSync(ti)) {
  console.error(`bench: no training image at ${ti}; give one with --ti FILE`);
  process.exit(2);
}

interface Case {
  name: string;
  n: number;
  j: number;
  g2s?: number[];
}
const g2sTimings = (() => {
  const f = join(shared, 'reference', 'g2s', 'timings.json');
  if (!existsSync(f)) return {} as Record<string, { wall_s: number[] }>;
  return JSON.parse(readFileSync(f, 'utf8')) as Record<string, { wall_s: number[] }>;
})();
const cases: Case[] = [
  { name: 'n50 -j 1', n: 50, j: 1, g2s: g2sTimings['stone_k1.2_n50_s1_j1_x3']?.wall_s },
  { name: 'n50 -j 2', n: 50, j: 2, g2s: g2sTimings['stone_k1.2_n50_s1_j2_x3']?.wall_s },
  { name: 'n200 -j 2', n: 200, j: 2 },
];
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const dir = mkdtempSync(join(tmpdir(), 'dqs-bench-'));
console.log(`dqs qs on ${ti}, DI 200x200, k 1.2, seed 100; ${repeat} run(s) per case, medians\n`);
console.log('case        wall s   sim s   ms/pixel  peak MB   G2S wall s (median)  dqs/G2S');
for (const c of cases) {
  const walls: number[] = [];
  const sims: number[] = [];
  const rss: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    const out = spawnSync(
      process.execPath,
      [
        join(root, 'bin', 'dqs.js'),
        'qs',
        '-ti',
        ti,
        '-di',
        '200x200',
        '-dt',
        '0',
        '-k',
        '1.2',
        '-n',
        String(c.n),
        '-s',
        '100',
        '-j',
        String(c.j),
        '-o',
        join(dir, 'sim'),
        '--json',
        '--quiet',
      ],
      { encoding: 'utf8' },
    );
    const wall = (performance.now() - t0) / 1000;
    if (out.status !== 0) {
      console.error(out.stderr);
      process.exit(1);
    }
    const summary = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
      seconds: number;
      peakRssMB: number;
      simulated: number;
    };
    walls.push(wall);
    sims.push(summary.seconds);
    rss.push(summary.peakRssMB);
  }
  const g2s = c.g2s ? median(c.g2s) : undefined;
  console.log(
    `${c.name.padEnd(11)} ${median(walls).toFixed(2).padStart(6)}  ${median(sims).toFixed(2).padStart(6)}  ${((1000 * median(sims)) / 40000).toFixed(3).padStart(8)}  ${median(rss).toFixed(0).padStart(7)}   ${g2s ? g2s.toFixed(2).padStart(10) : '         -'}           ${g2s ? (median(walls) / g2s).toFixed(2) : '-'}`,
  );
}
rmSync(dir, { recursive: true, force: true });
console.log(
  '\nwall = whole process (start, read, simulate, write); sim = simulation phase; G2S figures: ../shared/reference/g2s/timings.json',
);
