/**
 * Quality against G2S on the same inputs: the statistics of dqs simulations must fall in the range of G2S's own
 * simulations (../shared/reference/g2s, several seeds), measured with the same code on both.
 */
import { join } from 'node:path';
import { readGrid } from '@dqs/grids';
import { compareWithTi, ComparisonReport } from '@dqs/stats';
import { simulate } from '@dqs/qs';
import {
  G2S_REFERENCE,
  describeWithG2s,
  emptyGrid,
  hasG2sReference,
  trainingImage,
} from './support/training-images';

// G2S's reference runs used these very files: without them (a bare clone) the comparisons below are skipped
const stone = hasG2sReference ? trainingImage('stone.tiff') : emptyGrid([1, 1]);
const strebelle = hasG2sReference ? trainingImage('strebelle.tiff') : emptyGrid([1, 1]);
const asImage = (g: { shape: number[]; data: ArrayLike<number> }) => ({
  rows: g.shape[0],
  cols: g.shape[1],
  data: g.data,
});

function g2sReport(name: string, ti: typeof stone, categorical: boolean): ComparisonReport {
  const sim = readGrid(join(G2S_REFERENCE, `${name}.npy`));
  const index = readGrid(join(G2S_REFERENCE, `${name}_index.npy`)).data as Uint32Array;
  return compareWithTi(asImage(ti), asImage(sim), { categorical, index });
}

async function dqsReport(
  ti: typeof stone,
  seed: number,
  categorical: boolean,
  k = 1.2,
  size = 200,
): Promise<ComparisonReport> {
  const r = await simulate(
    {
      tis: [ti],
      di: emptyGrid([size, size]),
      kinds: [categorical ? 'categorical' : 'continuous'],
      k,
      n: [50],
      seed,
    },
    { threads: 2 },
  );
  return compareWithTi(asImage(ti), asImage(r.sim), { categorical, index: r.index });
}

/**
 * Each dqs value within G2S's [min, max] over seeds widened by that spread on each side (a few G2S seeds
 * understate the seed-to-seed spread), and the dqs mean within [min, max] widened by half the spread.
 */
function expectInRange(label: string, ours: number[], theirs: number[]): void {
  const lo = Math.min(...theirs);
  const hi = Math.max(...theirs);
  const spread = Math.max(hi - lo, 0.1 * hi);
  const mean = ours.reduce((a, b) => a + b, 0) / ours.length;
  const msg = `${label}: dqs ${ours.map((x) => x.toFixed(4)).join(', ')} vs G2S ${theirs.map((x) => x.toFixed(4)).join(', ')}`;
  console.log(msg);
  for (const x of ours) {
    if (x < lo - spread || x > hi + spread) throw new Error(`${msg}: ${x.toFixed(4)} is outside G2S's range`);
  }
  if (mean < lo - spread / 2 || mean > hi + spread / 2)
    throw new Error(`${msg}: mean ${mean.toFixed(4)} is outside G2S's range`);
}

describeWithG2s('quality against G2S (stone.tiff, continuous, n 50, k 1.2)', () => {
  const theirs = [1, 2, 3, 4, 5].map((s) => g2sReport(`stone_k1.2_n50_s${s}`, stone, false));
  let ours: ComparisonReport[];
  beforeAll(async () => {
    ours = [];
    for (const seed of [1, 2, 3]) ours.push(await dqsReport(stone, seed, false));
  });

  it('histogram (KS distance) in G2S range', () => {
    expectInRange(
      'KS',
      ours.map((r) => r.ks!),
      theirs.map((r) => r.ks!),
    );
  });
  it('variogram error along rows and columns in G2S range', () => {
    expectInRange(
      'variogram rows',
      ours.map((r) => r.variograms[0].relErr.rows),
      theirs.map((r) => r.variograms[0].relErr.rows),
    );
    expectInRange(
      'variogram cols',
      ours.map((r) => r.variograms[0].relErr.cols),
      theirs.map((r) => r.variograms[0].relErr.cols),
    );
  });
  it('verbatim adjacency in G2S range', () => {
    expectInRange(
      'verbatim h',
      ours.map((r) => r.verbatimAdjacency!.h),
      theirs.map((r) => r.verbatimAdjacency!.h),
    );
    expectInRange(
      'verbatim v',
      ours.map((r) => r.verbatimAdjacency!.v),
      theirs.map((r) => r.verbatimAdjacency!.v),
    );
  });
  it('mean and standard deviation in G2S range', () => {
    expectInRange(
      'mean',
      ours.map((r) => r.sim.mean),
      theirs.map((r) => r.sim.mean),
    );
    expectInRange(
      'std',
      ours.map((r) => r.sim.std),
      theirs.map((r) => r.sim.std),
    );
  });
});

describeWithG2s('verbatim copy falls as k grows (stone, 200x200, n 50)', () => {
  it('k = 1 > k = 1.2 > k = 3, near G2S figures (0.46, 0.31, 0.11)', async () => {
    const v: number[] = [];
    for (const k of [1, 1.2, 3]) {
      const r = await dqsReport(stone, 7, false, k);
      v.push((r.verbatimAdjacency!.h + r.verbatimAdjacency!.v) / 2);
    }
    console.log(
      `verbatim adjacency k=1 ${v[0].toFixed(3)}, k=1.2 ${v[1].toFixed(3)}, k=3 ${v[2].toFixed(3)}`,
    );
    expect(v[0]).toBeGreaterThan(v[1]);
    expect(v[1]).toBeGreaterThan(v[2]);
    expect(Math.abs(v[0] - 0.46)).toBeLessThan(0.1);
    expect(Math.abs(v[2] - 0.11)).toBeLessThan(0.06);
  });
});

describeWithG2s('quality against G2S (strebelle.tiff, categorical, n 50, k 1.2)', () => {
  const theirs = [1, 2, 3].map((s) => g2sReport(`strebelle_k1.2_n50_s${s}`, strebelle, true));
  let ours: ComparisonReport[];
  beforeAll(async () => {
    ours = [];
    for (const seed of [1, 2]) ours.push(await dqsReport(strebelle, seed, true));
  });
  const p1 = (r: ComparisonReport) => r.proportions!.find((p) => p.class === 1)!.sim;
  const ind1 = (r: ComparisonReport) => r.variograms.find((v) => v.label === 'class 1')!.relErr;
  const runs1 = (r: ComparisonReport) => r.runLengths!.find((x) => x.class === 1)!.sim;

  it('facies proportion in G2S range', () => {
    expectInRange('class-1 proportion', ours.map(p1), theirs.map(p1));
  });
  it('indicator variogram error in G2S range', () => {
    expectInRange(
      'indicator variogram rows',
      ours.map((r) => ind1(r).rows),
      theirs.map((r) => ind1(r).rows),
    );
    expectInRange(
      'indicator variogram cols',
      ours.map((r) => ind1(r).cols),
      theirs.map((r) => ind1(r).cols),
    );
  });
  it('channel anisotropy (mean run length of channels along rows / along columns) in G2S range', () => {
    expectInRange(
      'run length h',
      ours.map((r) => runs1(r).h),
      theirs.map((r) => runs1(r).h),
    );
    expectInRange(
      'run length v',
      ours.map((r) => runs1(r).v),
      theirs.map((r) => runs1(r).v),
    );
    for (const r of ours) expect(runs1(r).h / runs1(r).v).toBeGreaterThan(1.5);
  });
});
