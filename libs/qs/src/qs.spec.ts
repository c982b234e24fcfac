/** Exactness and behaviour of the QS engine (small grids; quality against G2S is in test/quality.spec.ts). */
import { crop, damier3D, emptyGrid, stoneLike, threeVariables } from '../../../test/support/training-images';
import {
  CONTROL,
  NOT_SIMULATED,
  QsCancelledError,
  QsGrid,
  QsInputError,
  QsParams,
  SimulationRun,
  createPlan,
  cropResult,
  simulate,
} from './index';

const stone = stoneLike(200, 200);
const stoneSmall = crop(stone, 0, 0, 80, 80);

function params(over: Partial<QsParams> = {}): QsParams {
  return {
    tis: [stoneSmall],
    di: emptyGrid([40, 40]),
    kinds: ['continuous'],
    k: 1.2,
    n: [20],
    seed: 3,
    ...over,
  };
}

function tiValueAt(tis: QsGrid[], index: number, v = 0): number {
  const t = index % tis.length;
  const cell = (index - t) / tis.length;
  return tis[t].data[cell * tis[t].vars + v];
}

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('QS engine: exactness', () => {
  it('keeps hard data and copies every simulated value from the TI cell of its index', async () => {
    const di = emptyGrid([40, 40]);
    const hard: number[] = [];
    for (let c = 0; c < 1600; c += 37) {
      di.data[c] = 0.123 + c / 10000;
      hard.push(c);
    }
    const r = await simulate(params({ di }), { threads: 2 });
    for (const c of hard) {
      expect(r.sim.data[c]).toBe(Math.fround(0.123 + c / 10000));
      expect(r.index[c]).toBe(NOT_SIMULATED);
    }
    let checked = 0;
    for (let c = 0; c < 1600; c++) {
      if (hard.includes(c)) continue;
      expect(r.index[c]).not.toBe(NOT_SIMULATED);
      expect(r.sim.data[c]).toBe(tiValueAt([stoneSmall], r.index[c]));
      checked++;
    }
    expect(checked).toBe(1600 - hard.length);
    expect(r.simulated).toBe(1600 - hard.length);
  });

  it('gives the same bytes for the same seed, other bytes for another seed', async () => {
    const a = await simulate(params(), { threads: 1 });
    const b = await simulate(params(), { threads: 1 });
    const c = await simulate(params({ seed: 4 }), { threads: 1 });
    expect(bytes(a.sim.data).equals(bytes(b.sim.data))).toBe(true);
    expect(bytes(a.index).equals(bytes(b.index))).toBe(true);
    expect(bytes(a.sim.data).equals(bytes(c.sim.data))).toBe(false);
  });

  it('gives the same bytes with 1, 2 and 4 threads', async () => {
    const p = params({ di: emptyGrid([50, 50]), n: [30] });
    const runs = await Promise.all([1, 2, 4].map((threads) => simulate(p, { threads })));
    for (const r of runs.slice(1)) {
      expect(bytes(r.sim.data).equals(bytes(runs[0].sim.data))).toBe(true);
      expect(bytes(r.index).equals(bytes(runs[0].index))).toBe(true);
    }
    expect(runs.map((r) => r.threads)).toEqual([1, 2, 4]);
  });

  it('takes the second best about one time in six with k = 1.2, and ranks 0/1/2 as 0.4/0.4/0.2 with k = 2.5', async () => {
    const freq = async (k: number) => {
      const r = await simulate(params({ k, di: emptyGrid([60, 60]), n: [12] }), {
        threads: 2,
        recordRanks: true,
      });
      const ranks = Array.from(r.ranks!).filter((x) => x >= 0);
      const counts = [0, 1, 2, 3].map((x) => ranks.filter((y) => y === x).length / ranks.length);
      return { counts, total: ranks.length };
    };
    const a = await freq(1.2);
    expect(a.total).toBeGreaterThan(3000);
    expect(a.counts[1]).toBeGreaterThan(1 / 6 - 0.025);
    expect(a.counts[1]).toBeLessThan(1 / 6 + 0.025);
    expect(a.counts[2]).toBe(0);
    const b = await freq(2.5);
    expect(b.counts[0]).toBeCloseTo(0.4, 1);
    expect(b.counts[1]).toBeCloseTo(0.4, 1);
    expect(b.counts[2]).toBeCloseTo(0.2, 1);
  });

  it('breaks categorical ties at random: on a constant TI the copied positions are uniform over the valid region', async () => {
    const ti: QsGrid = { shape: [41, 41], vars: 1, data: new Float32Array(41 * 41).fill(1) };
    const r = await simulate(
      { tis: [ti], di: emptyGrid([30, 30]), kinds: ['categorical'], k: 1, n: [9], seed: 9, kernelSize: [5] },
      { threads: 2 },
    );
    const rows: number[] = [];
    const cols: number[] = [];
    for (const idx of r.index) {
      rows.push(Math.floor(idx / 41));
      cols.push(idx % 41);
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    // valid centres run from 2 to 38 (5x5 kernel): uniform mean 20, sd about 10.7
    expect(Math.abs(mean(rows) - 20)).toBeLessThan(1.5);
    expect(Math.abs(mean(cols) - 20)).toBeLessThan(1.5);
    const sd = (a: number[]) => Math.sqrt(mean(a.map((x) => (x - mean(a)) ** 2)));
    expect(sd(rows)).toBeGreaterThan(9);
    expect(sd(cols)).toBeGreaterThan(9);
    // no directional artefact: horizontally adjacent cells are not copied from adjacent TI cells
    let verbatim = 0;
    for (let y = 0; y < 30; y++)
      for (let x = 0; x + 1 < 30; x++) if (r.index[y * 30 + x + 1] === r.index[y * 30 + x] + 1) verbatim++;
    expect(verbatim / (30 * 29)).toBeLessThan(0.02);
  });
});

describe('QS engine: variables, dimensions and maps', () => {
  it('copies whole cell vectors of a 3-variable TI', async () => {
    const ti = threeVariables(80, 80);
    const r = await simulate(
      {
        tis: [ti],
        di: emptyGrid([30, 30], 3),
        kinds: ['continuous', 'continuous', 'continuous'],
        k: 1.2,
        n: [15],
        seed: 1,
      },
      { threads: 2 },
    );
    for (let c = 0; c < 900; c++) {
      for (let v = 0; v < 3; v++) expect(r.sim.data[c * 3 + v]).toBe(tiValueAt([ti], r.index[c], v));
    }
  });

  it('simulates a 3D categorical grid (a checkerboard of cubes) from values of the TI', async () => {
    const g = damier3D(50);
    expect(g.shape).toEqual([50, 50, 50]);
    const r = await simulate(
      {
        tis: [g],
        di: emptyGrid([12, 12, 12]),
        kinds: ['categorical'],
        k: 1,
        n: [20],
        seed: 2,
        kernelSize: [7],
      },
      { threads: 2 },
    );
    let ones = 0;
    for (let c = 0; c < r.sim.data.length; c++) {
      expect(r.sim.data[c]).toBe(g.data[r.index[c]]);
      if (r.sim.data[c] === 1) ones++;
    }
    const p = ones / r.sim.data.length;
    expect(p).toBeGreaterThan(0.25);
    expect(p).toBeLessThan(0.75);
  });

  it('handles mixed continuous and categorical variables', async () => {
    const cont = crop(stone, 0, 0, 60, 60);
    const ti: QsGrid = { shape: [60, 60], vars: 2, data: new Float32Array(7200) };
    for (let c = 0; c < 3600; c++) {
      ti.data[2 * c] = cont.data[c];
      ti.data[2 * c + 1] = cont.data[c] > 0.5 ? 1 : 0;
    }
    const r = await simulate(
      {
        tis: [ti],
        di: emptyGrid([30, 30], 2),
        kinds: ['continuous', 'categorical'],
        k: 1.2,
        n: [12, 8],
        seed: 4,
      },
      { threads: 2 },
    );
    for (let c = 0; c < 900; c++) {
      expect(r.sim.data[2 * c]).toBe(tiValueAt([ti], r.index[c], 0));
      expect(r.sim.data[2 * c + 1]).toBe(r.sim.data[2 * c] > 0.5 ? 1 : 0);
    }
  });

  it('follows a user path: -inf cells are never simulated', async () => {
    const path = new Float32Array(1600);
    for (let c = 0; c < 1600; c++) path[c] = c % 40 < 5 ? -Infinity : 1600 - c;
    const r = await simulate(params({ path }), { threads: 2 });
    for (let c = 0; c < 1600; c++) {
      if (c % 40 < 5) {
        expect(Number.isNaN(r.sim.data[c])).toBe(true);
        expect(r.index[c]).toBe(NOT_SIMULATED);
      } else expect(r.sim.data[c]).toBe(tiValueAt([stoneSmall], r.index[c]));
    }
  });

  it('searches only the TI of -ii, and applies the effective k of several TIs', async () => {
    const tis = [stoneSmall, crop(stone, 100, 100, 80, 80), crop(stone, 0, 100, 80, 80)];
    const only = new Float32Array(1600);
    for (let c = 0; c < 1600; c++) only[c] = c < 800 ? 1 : 2;
    const r = await simulate(params({ tis, tiIndexMap: only }), { threads: 2 });
    for (let c = 0; c < 1600; c++) {
      expect(r.index[c] % 3).toBe(c < 800 ? 1 : 2);
      expect(r.sim.data[c]).toBe(tiValueAt(tis, r.index[c]));
    }
    // three TIs and k = 1.5: G2S's effective k is 1.5 * ceil(3 / 1.5) / 3 = 1, so the best is always taken
    const three = await simulate(params({ tis, k: 1.5 }), { threads: 2, recordRanks: true });
    expect(Array.from(three.ranks!).filter((x) => x > 0)).toHaveLength(0);
    const two = await simulate(params({ tis: tis.slice(0, 2), k: 1.5, di: emptyGrid([50, 50]) }), {
      threads: 2,
      recordRanks: true,
    });
    const ranks = Array.from(two.ranks!).filter((x) => x >= 0);
    expect(ranks.filter((x) => x === 1).length / ranks.length).toBeCloseTo(1 / 3, 1);
  });

  it('honours -kvi and -ni maps (a uniform map equals the global value)', async () => {
    const kMap = new Float32Array(1600).fill(1);
    const nMap = { shape: [40, 40], channels: 1, data: new Float32Array(1600).fill(10) };
    const a = await simulate(params({ k: 3, kMap, n: [20], nMap }), { threads: 2 });
    const b = await simulate(params({ k: 1, n: [10] }), { threads: 2 });
    expect(bytes(a.sim.data).equals(bytes(b.sim.data))).toBe(true);
  });

  it('accepts a user kernel (NaN offsets excluded) and a periodic TI larger-kernel run', async () => {
    const kernel = { shape: [7, 7], channels: 1, data: new Float32Array(49).fill(1) };
    kernel.data[0] = NaN;
    const r = await simulate(params({ kernel }), { threads: 2 });
    for (let c = 0; c < 1600; c++) expect(r.sim.data[c]).toBe(tiValueAt([stoneSmall], r.index[c]));
    const small = crop(stone, 0, 0, 20, 20);
    const p = await simulate(
      params({ tis: [small], kernelSize: [31], periodicTi: true, di: emptyGrid([25, 25]) }),
      { threads: 2 },
    );
    for (let c = 0; c < 625; c++) expect(p.sim.data[c]).toBe(tiValueAt([small], p.index[c]));
  });

  it('never copies missing values from a TI with NaN', async () => {
    const ti = crop(stone, 0, 0, 60, 60);
    for (let r = 20; r < 35; r++) for (let c = 10; c < 40; c++) ti.data[r * 60 + c] = NaN;
    const out = await simulate(params({ tis: [ti], di: emptyGrid([30, 30]) }), { threads: 2 });
    for (let c = 0; c < 900; c++) {
      expect(Number.isNaN(out.sim.data[c])).toBe(false);
      expect(out.sim.data[c]).toBe(tiValueAt([ti], out.index[c]));
    }
  });
});

describe('QS engine: control (pause, cancel, resume) and the distributed hooks', () => {
  it('pauses and resumes without changing the bytes', async () => {
    const p = params({ di: emptyGrid([50, 50]) });
    const reference = await simulate(p, { threads: 2 });
    const paused = await simulate(p, {
      threads: 2,
      progressIntervalMs: 20,
      onStart: (run) => {
        run.pause();
        setTimeout(() => run.resume(), 300);
      },
    });
    expect(bytes(paused.sim.data).equals(bytes(reference.sim.data))).toBe(true);
  });

  it('keeps the calling thread lively when it works as a kernel slot: progress during the run, pause honoured', async () => {
    const p = params({ di: emptyGrid([60, 60]) });
    const reference = await simulate(p, { threads: 1 });
    const seen: number[] = [];
    const whilePaused: number[] = [];
    const r = await simulate(p, {
      threads: 1,
      progressIntervalMs: 5,
      onProgress: (done) => seen.push(done),
      onStart: (run) => {
        run.pause();
        const look = () => whilePaused.push(run.finishedPositions());
        setTimeout(look, 100);
        setTimeout(() => {
          look();
          run.resume();
        }, 200);
      },
    });
    expect(whilePaused).toHaveLength(2);
    expect(whilePaused[1]).toBe(whilePaused[0]);
    expect(seen.some((d) => d > 0 && d < 3600)).toBe(true);
    expect(bytes(r.index).equals(bytes(reference.index))).toBe(true);
  });

  it('cancels, then resumes from the finished positions to the same bytes as an uninterrupted run', async () => {
    const p = params({ di: emptyGrid([50, 50]) });
    const reference = await simulate(p, { threads: 2 });
    const plan = createPlan(p);
    const first = new SimulationRun(plan.shared, {
      threads: 2,
      progressIntervalMs: 5,
      onProgress: (done) => {
        if (done > 300) first.cancel();
      },
    });
    await expect(first.done).rejects.toBeInstanceOf(QsCancelledError);
    const finished = first.finishedPositions();
    expect(finished).toBeGreaterThan(300);
    expect(finished).toBeLessThan(2500);
    const seen: number[] = [];
    const second = new SimulationRun(plan.shared, {
      threads: 2,
      onSimulated: (batch) => seen.push(...batch),
    });
    const summary = await second.done;
    expect(summary.simulated).toBe(2500 - finished);
    expect(seen).toHaveLength(2500 - finished);
    const { sim, index } = cropResult(plan, [50, 50]);
    expect(bytes(sim.data).equals(bytes(reference.sim.data))).toBe(true);
    expect(bytes(index).equals(bytes(reference.index))).toBe(true);
  });

  it('uses an external global order and waits for a neighbour cell until its value arrives', async () => {
    // order i * 2 + 1 (job rank 1 of 2); one halo cell right of the tile has order 0 and arrives late
    const p = params({ di: emptyGrid([20, 20]), n: [8], kernelSize: [5] });
    const plan = createPlan(p, { orderOfPosition: (i) => i * 2 + 1 });
    const { dims, halo } = plan.shared.domain;
    const haloCell = (halo[1] + 10) * dims[2] + (halo[2] + 20); // row 10, first column right of the tile
    plan.shared.order[haloCell] = 0;
    const run = new SimulationRun(plan.shared, { threads: 2, progressIntervalMs: 10 });
    // a thread reaches the cell whatever the machine's load: wait for that, not for a fixed time
    for (let t = 0; t < 3000 && !run.waitingFor().includes(haloCell); t++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const waiting = run.waitingFor();
    const finishedWhileWaiting = run.finishedPositions();
    plan.shared.values[haloCell] = 0.5;
    Atomics.store(plan.shared.ready, haloCell, 1);
    Atomics.notify(plan.shared.ready, haloCell);
    await run.done;
    expect(waiting).toContain(haloCell);
    expect(finishedWhileWaiting).toBeLessThan(400);
    expect(run.finishedPositions()).toBe(400);
    expect(Atomics.load(plan.shared.control, CONTROL.DONE)).toBe(400);
  });
});

describe('QS engine: bad input is a clear error', () => {
  const cases: [string, Partial<QsParams>, RegExp][] = [
    [
      'mismatched variable counts',
      { kinds: ['continuous', 'continuous'] },
      /-dt lists 2 variable type\(s\) but the DI has 1/,
    ],
    ['k < 1', { k: 0.5 }, /-k must be a number >= 1/],
    ['n < 1', { n: [0] }, /-n must be an integer >= 1/],
    [
      'a kernel of the wrong rank',
      { kernel: { shape: [3, 3, 3, 3], channels: 1, data: new Float32Array(81).fill(1) } },
      /-ki: the kernel has 4 axes but the TI has 2/,
    ],
    [
      'an all-NaN TI',
      { tis: [{ shape: [10, 10], vars: 1, data: new Float32Array(100).fill(NaN) }] },
      /no cell with every variable known/,
    ],
    [
      'a DI of another dimensionality',
      { di: emptyGrid([10, 10, 10]) },
      /the DI is 3D \(10x10x10\) but TI 1 is 2D/,
    ],
    ['a kernel larger than the TI', { kernelSize: [101] }, /larger than TI 1/],
    ['a map of the wrong shape', { kMap: new Float32Array(10) }, /-kvi: the map has 10 values/],
    [
      '-ii out of range',
      { tiIndexMap: new Float32Array(1600).fill(3) },
      /-ii: TI indices must be integers from 0 to 0/,
    ],
  ];
  it.each(cases)('%s', async (_name, over, message) => {
    await expect(simulate(params(over))).rejects.toThrow(QsInputError);
    await expect(simulate(params(over))).rejects.toThrow(message);
  });
});
