/** `dqs stats`: how a simulation compares with its training image, in figures and as a picture. */
import { ReadGrid, readGrid, renderPreview, toFloat32, writeFileAtomic } from '@dqs/grids';
import { ComparisonReport, compareWithTi, reportSvg } from '@dqs/stats';
import { parseG2sArgs, singleNumber, singleString, switchFlag, UsageError } from '../g2s-args';
import { svgToPng } from '../report-png';

const FLAGS: Record<string, string[]> = {
  ti: ['--ti', '-ti'],
  sim: ['--sim', '-sim'],
  index: ['--index', '-index'],
  dt: ['-dt', '--dt'],
  o: ['-o', '--output'],
  json: ['--json'],
  lags: ['--lags'],
  help: ['-h', '--help'],
};

export const STATS_HELP = `dqs stats: compare a simulation with its training image

  dqs stats --ti stone.tiff --sim out/sim.npy --index out/sim.index.npy -o report.png

  --ti FILE      the training image          --sim FILE   the simulation (first variable is used)
  --index FILE   the index image, for verbatim adjacency (fraction of neighbours copied together)
  -dt 0|1        continuous or categorical (default: categorical when the TI holds few integer values)
  --lags N       variogram lags 1..N (default 30)
  -o FILE.png    draw the report      --json  print the figures as JSON
`;

/** A 2D [rows, cols] view of the first variable. */
function firstVariable2d(grid: ReadGrid, file: string): { rows: number; cols: number; data: Float32Array } {
  const data = toFloat32(grid);
  if (grid.shape.length === 2) return { rows: grid.shape[0], cols: grid.shape[1], data };
  if (grid.shape.length === 3) {
    const [rows, cols, V] = grid.shape;
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) out[i] = data[i * V];
    return { rows, cols, data: out };
  }
  throw new UsageError(
    `${file}: shape ${grid.shape.join('x')}; dqs stats compares 2D grids ([rows, cols] or [rows, cols, vars])`,
  );
}

function looksCategorical(values: ArrayLike<number>): boolean {
  const seen = new Set<number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (!Number.isInteger(v)) return false;
    seen.add(v);
    if (seen.size > 16) return false;
  }
  return true;
}

export async function runStats(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, FLAGS);
  if (switchFlag(flags, 'help')) {
    process.stdout.write(STATS_HELP);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const tiFile = singleString(flags, 'ti', '--ti');
  const simFile = singleString(flags, 'sim', '--sim');
  if (!tiFile || !simFile) throw new UsageError('--ti and --sim are required (see dqs stats --help)');
  const ti = firstVariable2d(readGrid(tiFile), tiFile);
  const sim = firstVariable2d(readGrid(simFile), simFile);
  const indexFile = singleString(flags, 'index', '--index');
  let index: Uint32Array | undefined;
  if (indexFile) {
    const g = readGrid(indexFile);
    if (g.shape.length !== 2 || g.shape[0] !== sim.rows || g.shape[1] !== sim.cols) {
      throw new UsageError(
        `${indexFile}: shape ${g.shape.join('x')} does not match the simulation's ${sim.rows}x${sim.cols}`,
      );
    }
    index = g.data instanceof Uint32Array ? g.data : Uint32Array.from(g.data as ArrayLike<number>);
  }
  const dt = singleNumber(flags, 'dt', '-dt');
  const categorical = dt === undefined ? looksCategorical(ti.data) : dt !== 0;
  const lags = singleNumber(flags, 'lags', '--lags') ?? 30;
  if (!Number.isInteger(lags) || lags < 1)
    throw new UsageError(`--lags must be an integer >= 1 (got ${lags})`);
  const report: ComparisonReport = compareWithTi(ti, sim, { categorical, maxLag: lags, index });
  const out = singleString(flags, 'o', '-o');
  if (out) {
    const range: [number, number] = [Math.min(...finite(ti.data)), Math.max(...finite(ti.data))];
    const scale = (r: number, c: number) => Math.max(1, Math.floor(300 / Math.max(r, c)));
    const panels = [
      {
        title: `training image ${ti.rows}x${ti.cols}`,
        png: renderPreview(ti.data, ti.rows, ti.cols, { categorical, range, scale: scale(ti.rows, ti.cols) }),
      },
      {
        title: `simulation ${sim.rows}x${sim.cols}`,
        png: renderPreview(sim.data, sim.rows, sim.cols, {
          categorical,
          range,
          scale: scale(sim.rows, sim.cols),
        }),
      },
    ];
    if (index) {
      const pos = Float32Array.from(index, (v) => (v === 0xffffffff ? NaN : v));
      panels.push({
        title: 'index image (patches = verbatim copy)',
        png: renderPreview(pos, sim.rows, sim.cols, { scale: scale(sim.rows, sim.cols) }),
      });
    }
    writeFileAtomic(out, svgToPng(reportSvg(report, { panels }, { ti: ti.data, sim: sim.data })));
  }
  if (switchFlag(flags, 'json', '--json')) {
    const { variograms, ...rest } = report;
    process.stdout.write(
      JSON.stringify({
        ...rest,
        variogramRelErr: variograms.map((v) => ({ label: v.label, ...v.relErr })),
        report: out,
      }) + '\n',
    );
  } else {
    process.stdout.write(describe(report) + (out ? `report drawn in ${out}\n` : ''));
  }
  return 0;
}

function finite(values: ArrayLike<number>): number[] {
  return Array.from(values).filter(Number.isFinite);
}

function describe(r: ComparisonReport): string {
  const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const lines = [
    `${r.kind} simulation ${r.shape.join('x')}: mean ${f(r.sim.mean)} std ${f(r.sim.std)} (TI ${f(r.ti.mean)} / ${f(r.ti.std)})`,
  ];
  if (r.ks !== undefined) lines.push(`  KS distance of values       ${f(r.ks, 4)}`);
  for (const p of r.proportions ?? [])
    lines.push(`  class ${p.class} proportion        sim ${f(p.sim, 4)}  TI ${f(p.ti, 4)}`);
  for (const v of r.variograms)
    lines.push(`  variogram rel. error (${v.label})  rows ${f(v.relErr.rows)}  cols ${f(v.relErr.cols)}`);
  for (const rl of r.runLengths ?? []) {
    lines.push(
      `  class ${rl.class} mean run length h/v  sim ${f(rl.sim.h, 1)}/${f(rl.sim.v, 1)}  TI ${f(rl.ti.h, 1)}/${f(rl.ti.v, 1)}`,
    );
  }
  if (r.verbatimAdjacency)
    lines.push(`  verbatim adjacency h/v      ${f(r.verbatimAdjacency.h)} / ${f(r.verbatimAdjacency.v)}`);
  return lines.join('\n') + '\n';
}
