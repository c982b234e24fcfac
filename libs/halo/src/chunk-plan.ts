/**
 * A chunk's simulation plan: the engine's plan over its padded tile, with G2S's global order g = i * N + r,
 * and the halo filled from its neighbours: their hard data as conditioning data, and for every other cell
 * the order g its owner will simulate it at (found by replaying the owner's path from its DI and seed).
 */
import { ChunkJobData, RunParams } from '@dqs/protocol';
import { NdArray, toFloat32 } from '@dqs/grids';
import {
  QsGrid,
  QsMap,
  QsParams,
  SimulationPlan,
  buildPath,
  createPlan,
  gridFromArray,
  isFullyInformed,
} from '@dqs/qs';
import { forEachBoxCell, neighbourBox } from './geometry';

export type ArrayLoader = (sha256: string) => NdArray;

export interface ChunkPlan {
  plan: SimulationPlan;
  /** g -> domain cell, for halo cells that a neighbour will publish. */
  haloCells: Map<number, number>;
  /** Number of halo cells per neighbour position, for diagnostics. */
  haloCounts: Map<number, number>;
}

export function chunkSeed(params: RunParams, position: number): number {
  return (params.seed + position) >>> 0;
}

export function qsParamsOf(
  params: RunParams,
  tis: QsGrid[],
  di: QsGrid,
  position: number,
  kernel?: QsMap,
): QsParams {
  return {
    tis,
    di,
    kinds: params.dt.map((t) => (t === 0 ? 'continuous' : 'categorical')),
    k: params.k,
    n: params.n,
    seed: chunkSeed(params, position),
    kernelSize: params.ks,
    kernel,
    periodicTi: params.cti,
    forceSimulation: params.forceSimulation,
  };
}

export function loadGrid(load: ArrayLoader, sha: string, vars: number, label: string): QsGrid {
  let a: NdArray;
  try {
    a = load(sha);
  } catch (e) {
    throw new Error(`${label}: cannot read stored array ${sha} (${(e as Error).message})`);
  }
  return gridFromArray(a.shape, toFloat32(a), vars, label);
}

export function loadKernel(load: ArrayLoader, sha: string | undefined): QsMap | undefined {
  if (!sha) return undefined;
  const a = load(sha);
  return { shape: [...a.shape], channels: 1, data: toFloat32(a) };
}

/** Global order of each cell of a tile, as its owner (grid position p) simulates it: -1 hard data, +inf never. */
export function tileOrder(di: QsGrid, params: RunParams, position: number, jobCount: number): Float64Array {
  const cells = di.data.length / di.vars;
  const order = new Float64Array(cells).fill(Infinity);
  for (let c = 0; c < cells; c++) if (isFullyInformed(di, c)) order[c] = -1;
  const path = buildPath(di, chunkSeed(params, position));
  for (let i = 0; i < path.cells.length; i++) order[path.cells[i]] = i * jobCount + position;
  return order;
}

export function buildChunkPlan(job: ChunkJobData, load: ArrayLoader): ChunkPlan {
  const V = job.vars;
  const tis = job.tiShas.map((sha, k) => loadGrid(load, sha, V, `TI ${k} of job ${job.jobId}`));
  const di = loadGrid(load, job.diSha, V, `DI of job ${job.jobId}`);
  const kernel = loadKernel(load, job.params.kernel);
  const N = job.jobCount;
  const r = job.position;
  const plan = createPlan(qsParamsOf(job.params, tis, di, r, kernel), {
    orderOfPosition: (i) => i * N + r,
    labels: { di: `DI of job ${job.jobId}`, tis: job.tiShas.map((_s, k) => `TI ${k} of job ${job.jobId}`) },
  });
  const { dims, halo, inner } = plan.shared.domain;
  const rank = job.tileShape.length;
  const domainDims = dims.slice(3 - rank);
  const expectedHalo = halo.slice(3 - rank);
  if (
    expectedHalo.some((h, a) => h !== job.halo[a]) ||
    inner.slice(3 - rank).some((s, a) => s !== job.tileShape[a])
  ) {
    throw new Error(
      `job ${job.jobId}: the tile ${inner.slice(3 - rank).join('x')} with halo ${expectedHalo.join('x')} does not match the run's ` +
        `${job.tileShape.join('x')} with halo ${job.halo.join('x')}; were its inputs replaced after the run was submitted?`,
    );
  }
  const { values, order, ready } = plan.shared;
  const haloCells = new Map<number, number>();
  const haloCounts = new Map<number, number>();
  for (const nb of job.neighbours) {
    const nDi = loadGrid(load, nb.diSha, V, `DI of job ${nb.jobId}`);
    if (nDi.shape.some((s, a) => s !== job.tileShape[a])) {
      throw new Error(
        `job ${nb.jobId}: its DI is ${nDi.shape.join('x')}, not the run's tile ${job.tileShape.join('x')}`,
      );
    }
    const nOrder = tileOrder(nDi, job.params, nb.position, N);
    const box = neighbourBox(nb.offset, job.tileShape, job.halo);
    let count = 0;
    forEachBoxCell(box, domainDims, job.tileShape, (local, ncell) => {
      const g = nOrder[ncell];
      order[local] = g;
      for (let v = 0; v < V; v++) values[local * V + v] = nDi.data[ncell * V + v];
      if (g === -1) ready[local] = 1;
      else if (Number.isFinite(g)) {
        ready[local] = 0;
        haloCells.set(g, local);
        count++;
      }
    });
    haloCounts.set(nb.position, count);
  }
  return { plan, haloCells, haloCounts };
}
