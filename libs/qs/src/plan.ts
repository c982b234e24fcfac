/**
 * A validated simulation, laid out in shared memory so that kernel threads can work on it together.
 *
 * The working domain is the DI padded by the kernel's half-size (G2S pads the same way): neighbour lookups
 * never leave it, and in the distributed mode its halo holds the neighbouring tiles' cells.
 * Per domain cell: values (V float32), index (uint32), order (float64, the global path order; -1 = hard
 * data, +Infinity = never informed) and ready (int32, 1 once the values are final, waited on with Atomics).
 */
import { QsInputError } from './errors';
import { Dims3, KernelTable, buildKernel, toDims3 } from './kernel';
import { SimulationPath, buildPath, isFullyInformed } from './path';
import { NOT_SIMULATED, QsGrid, QsParams } from './types';

export interface SharedTi {
  dims: Dims3;
  /** Periodic padding per axis (0 unless -cti). */
  pad: Dims3;
  paddedDims: Dims3;
  /** Values over the padded TI, V per cell; a cell with any NaN variable is NaN in all of them. */
  data: Float32Array;
  cells: number;
  /** Cells with every variable known. */
  completeCells: number;
}

/** Slots of the control array shared between the main thread and kernel threads. */
export const CONTROL = {
  CANCEL: 0,
  PAUSE: 1,
  NEXT: 2,
  DONE: 3,
  LOG: 4,
  END: 5,
  /** From here: one slot per thread with the cell it waits for, or -1. */
  WAITING: 8,
} as const;
export const MAX_THREADS = 256;

export interface SharedPlan {
  vars: number;
  /** 1 = categorical, per variable. */
  kinds: Uint8Array;
  rank: number;
  domain: { dims: Dims3; halo: Dims3; inner: Dims3 };
  values: Float32Array;
  index: Uint32Array;
  order: Float64Array;
  ready: Int32Array;
  /** Domain cells in path order, their draws, and which positions are finished. */
  path: Int32Array;
  draws: Uint32Array;
  positionDone: Uint8Array;
  kernel: { count: number; offsets: Int32Array; weights: Float64Array; domainOffsets: Int32Array };
  n: Int32Array;
  k: number;
  /** Largest k any cell may use (sizes the candidate lists). */
  maxK: number;
  force: boolean;
  /** Some TI has NaN: G2S's normalised mismatch with the informed-overlap weight (spec §5.5). */
  nanMode: boolean;
  periodic: boolean;
  tis: SharedTi[];
  nMap?: Float32Array;
  nMapChannels: number;
  kMap?: Float32Array;
  tiMap?: Float32Array;
  /**
   * Per variable, over all TIs: mean and variance (continuous) or category values and frequencies
   * (categorical). They give each mismatch term its expected size, so that terms likely to be large are
   * summed first and poor candidates are abandoned sooner.
   */
  varStats: {
    mean: Float64Array;
    variance: Float64Array;
    categories: Float64Array[];
    frequencies: Float64Array[];
  };
  /** With PlanOptions.recordRanks: the candidate rank taken at each path position (-1 = marginal draw). */
  ranks?: Int32Array;
  control: Int32Array;
  /** Finished path positions, in completion order, stored +1 (0 = slot not written yet). */
  log: Int32Array;
}

function sharedFloat32(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * Math.max(1, n))).subarray(0, n);
}
function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(8 * Math.max(1, n))).subarray(0, n);
}
function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * Math.max(1, n))).subarray(0, n);
}
function sharedUint32(n: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(4 * Math.max(1, n))).subarray(0, n);
}
function sharedUint8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(Math.max(1, n))).subarray(0, n);
}

export interface PlanOptions {
  /**
   * Global order of path position i (distributed mode: i * jobCount + jobRank). Default: i.
   * Neighbour cells count as informed only when their order is not larger than the cell's own.
   */
  orderOfPosition?: (i: number) => number;
  /** Extra halo per axis beyond the kernel's (never needed locally). */
  minimumHalo?: number[];
  /** Record the rank of the candidate taken at each position (for tests and diagnostics). */
  recordRanks?: boolean;
  /** Labels for error messages, e.g. file names. */
  labels?: { tis?: string[]; di?: string };
}

export interface SimulationPlan {
  shared: SharedPlan;
  kernel: KernelTable;
  /** The path as built on the unpadded DI. */
  path: SimulationPath;
  /** Unpadded DI cell -> domain cell. */
  domainCell(cell: number): number;
  /** Domain cell -> unpadded DI cell, or -1 in the halo. */
  innerCell(domainCell: number): number;
}

const describe = (labels: PlanOptions['labels'], t: number) => labels?.tis?.[t] ?? `TI ${t + 1}`;

export function validateParams(p: QsParams, labels?: PlanOptions['labels']): void {
  const diName = labels?.di ?? 'the DI';
  if (!p.tis || p.tis.length === 0) throw new QsInputError('-ti: give at least one training image');
  const V = p.kinds.length;
  if (V < 1)
    throw new QsInputError('-dt: give one variable type per variable (0 = continuous, 1 = categorical)');
  if (p.di.vars !== V) {
    throw new QsInputError(
      `-dt lists ${V} variable type(s) but ${diName} has ${p.di.vars} variable(s); give one type per variable`,
    );
  }
  p.tis.forEach((ti, t) => {
    if (ti.vars !== V) {
      throw new QsInputError(
        `-dt lists ${V} variable type(s) but ${describe(labels, t)} has ${ti.vars} variable(s); every TI and the DI need the same variables`,
      );
    }
    if (ti.shape.length !== p.di.shape.length) {
      throw new QsInputError(
        `${diName} is ${p.di.shape.length}D (${p.di.shape.join('x')}) but ${describe(labels, t)} is ${ti.shape.length}D (${ti.shape.join('x')}); ` +
          'the DI and every TI need the same number of spatial axes',
      );
    }
    if (ti.shape.some((s) => s < 1) || ti.data.length !== ti.shape.reduce((a, b) => a * b, 1) * V) {
      throw new QsInputError(`${describe(labels, t)}: shape ${ti.shape.join('x')} does not match its data`);
    }
  });
  if (p.di.shape.length < 1 || p.di.shape.length > 3) {
    throw new QsInputError(`${diName} has ${p.di.shape.length} axes; QS simulates 1D, 2D and 3D grids`);
  }
  if (!Number.isFinite(p.k) || p.k < 1) {
    throw new QsInputError(
      `-k must be a number >= 1 (got ${p.k}); k = 1 always takes the best candidate, 1.2 the second best one time in six`,
    );
  }
  if (!p.n || p.n.length === 0)
    throw new QsInputError('-n: give the number of neighbours (one value, or one per variable)');
  for (const n of p.n) {
    if (!Number.isInteger(n) || n < 1) {
      throw new QsInputError(
        `-n must be an integer >= 1 (got ${n}); the simulated cell itself counts as one neighbour`,
      );
    }
  }
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) {
    throw new QsInputError(`-s must be an integer between 0 and 4294967295 (got ${p.seed})`);
  }
  const cells = p.di.shape.reduce((a, b) => a * b, 1);
  const checkMap = (flag: string, length: number | undefined, per: number[]) => {
    if (length !== undefined && !per.includes(length)) {
      throw new QsInputError(
        `${flag}: the map has ${length} values; it must have the DI's shape ${p.di.shape.join('x')}`,
      );
    }
  };
  checkMap('-sp', p.path?.length, [cells]);
  checkMap('-ii', p.tiIndexMap?.length, [cells]);
  checkMap('-kvi', p.kMap?.length, [cells]);
  checkMap('-ni', p.nMap?.data.length, [cells, cells * V]);
  if (p.tiIndexMap) {
    for (const v of p.tiIndexMap) {
      if (Number.isNaN(v)) continue;
      if (!Number.isInteger(v) || v < 0 || v >= p.tis.length) {
        throw new QsInputError(`-ii: TI indices must be integers from 0 to ${p.tis.length - 1} (found ${v})`);
      }
    }
  }
}

function prepareTi(ti: QsGrid, rank: number, periodic: boolean, kernelSize: Dims3, label: string): SharedTi {
  const V = ti.vars;
  const dims = toDims3(ti.shape);
  const pad: Dims3 = periodic
    ? ([0, 1, 2].map((d) => (dims[d] > 1 ? Math.floor(kernelSize[d] / 2) : 0)) as Dims3)
    : [0, 0, 0];
  const paddedDims = dims.map((s, d) => s + 2 * pad[d]) as Dims3;
  const data = sharedFloat32(paddedDims[0] * paddedDims[1] * paddedDims[2] * V);
  const cells = dims[0] * dims[1] * dims[2];
  let complete = 0;
  const mod = (a: number, m: number) => ((a % m) + m) % m;
  for (let z = 0; z < paddedDims[0]; z++) {
    for (let y = 0; y < paddedDims[1]; y++) {
      for (let x = 0; x < paddedDims[2]; x++) {
        const src =
          (mod(z - pad[0], dims[0]) * dims[1] + mod(y - pad[1], dims[1])) * dims[2] +
          mod(x - pad[2], dims[2]);
        const dst = (z * paddedDims[1] + y) * paddedDims[2] + x;
        let any = false;
        for (let v = 0; v < V; v++) if (Number.isNaN(ti.data[src * V + v])) any = true;
        for (let v = 0; v < V; v++) data[dst * V + v] = any ? NaN : ti.data[src * V + v];
      }
    }
  }
  for (let c = 0; c < cells; c++) {
    let ok = true;
    for (let v = 0; v < V; v++) if (Number.isNaN(ti.data[c * V + v])) ok = false;
    if (ok) complete++;
  }
  if (complete === 0) {
    throw new QsInputError(
      `${label} has no cell with every variable known (all NaN): there is nothing to copy from`,
    );
  }
  void rank;
  return { dims, pad, paddedDims, data, cells, completeCells: complete };
}

function variableStats(p: QsParams): SharedPlan['varStats'] {
  const V = p.kinds.length;
  const mean = new Float64Array(V);
  const variance = new Float64Array(V);
  const categories: Float64Array[] = [];
  const frequencies: Float64Array[] = [];
  for (let v = 0; v < V; v++) {
    let n = 0;
    let s = 0;
    let s2 = 0;
    const counts = new Map<number, number>();
    for (const ti of p.tis) {
      for (let c = v; c < ti.data.length; c += V) {
        const x = ti.data[c];
        if (x !== x) continue;
        n++;
        s += x;
        s2 += x * x;
        if (p.kinds[v] === 'categorical') counts.set(x, (counts.get(x) ?? 0) + 1);
      }
    }
    mean[v] = n > 0 ? s / n : 0;
    variance[v] = n > 0 ? Math.max(0, s2 / n - mean[v] * mean[v]) : 0;
    categories.push(Float64Array.from(counts.keys()));
    frequencies.push(Float64Array.from([...counts.values()].map((c) => c / Math.max(1, n))));
  }
  return { mean, variance, categories, frequencies };
}

/**
 * Everything about the parameters that can be checked without allocating the simulation: the input checks
 * of validateParams, the kernel, and the kernel against each TI. Returns the kernel.
 */
export function checkParams(p: QsParams, labels?: PlanOptions['labels']): KernelTable {
  validateParams(p, labels);
  const rank = p.di.shape.length;
  const tiDims = p.tis.map((t) => toDims3(t.shape));
  const kernel = buildKernel(rank, p.kinds.length, tiDims, p.kernel, p.kernelSize);
  if (!p.periodicTi) {
    tiDims.forEach((d, t) => {
      for (let a = 0; a < 3; a++) {
        if (kernel.size[a] > d[a]) {
          throw new QsInputError(
            `the kernel (${kernel.size.slice(3 - rank).join('x')}) is larger than ${describe(labels, t)} ` +
              `(${d.slice(3 - rank).join('x')}); give a smaller -ki or -ks, or -cti for a periodic TI`,
          );
        }
      }
    });
  }
  return kernel;
}

/** Halo (padding) per spatial axis, numpy order: floor(kernel size / 2), as G2S pads. */
export function haloOf(kernel: KernelTable, rank: number): number[] {
  return kernel.size.slice(3 - rank).map((s) => Math.floor(s / 2));
}

export function createPlan(p: QsParams, options: PlanOptions = {}): SimulationPlan {
  const kernel = checkParams(p, options.labels);
  const V = p.kinds.length;
  const rank = p.di.shape.length;
  const inner = toDims3(p.di.shape);
  const halo = kernel.size.map((s, d) =>
    Math.max(Math.floor(s / 2), options.minimumHalo?.[d - (3 - rank)] ?? 0),
  ) as Dims3;
  for (let d = 0; d < 3 - rank; d++) halo[d] = 0;
  const dims = inner.map((s, d) => s + 2 * halo[d]) as Dims3;
  const domainCells = dims[0] * dims[1] * dims[2];
  const domainCell = (cell: number) => {
    const x = cell % inner[2];
    const y = Math.floor(cell / inner[2]) % inner[1];
    const z = Math.floor(cell / (inner[1] * inner[2]));
    return ((z + halo[0]) * dims[1] + (y + halo[1])) * dims[2] + (x + halo[2]);
  };
  const innerCell = (dc: number) => {
    const x = (dc % dims[2]) - halo[2];
    const y = (Math.floor(dc / dims[2]) % dims[1]) - halo[1];
    const z = Math.floor(dc / (dims[1] * dims[2])) - halo[0];
    if (x < 0 || y < 0 || z < 0 || x >= inner[2] || y >= inner[1] || z >= inner[0]) return -1;
    return (z * inner[1] + y) * inner[2] + x;
  };

  const values = sharedFloat32(domainCells * V);
  values.fill(NaN);
  const index = sharedUint32(domainCells);
  index.fill(NOT_SIMULATED);
  const order = sharedFloat64(domainCells);
  order.fill(Infinity);
  const ready = sharedInt32(domainCells);
  const diCells = inner[0] * inner[1] * inner[2];
  for (let c = 0; c < diCells; c++) {
    const dc = domainCell(c);
    for (let v = 0; v < V; v++) values[dc * V + v] = p.di.data[c * V + v];
    if (isFullyInformed(p.di, c)) {
      order[dc] = -1;
      ready[dc] = 1;
    }
  }
  const built = buildPath(p.di, p.seed, p.path);
  const M = built.cells.length;
  const path = sharedInt32(M);
  const draws = sharedUint32(M);
  draws.set(built.draws);
  const orderOf = options.orderOfPosition ?? ((i: number) => i);
  for (let i = 0; i < M; i++) {
    const dc = domainCell(built.cells[i]);
    path[i] = dc;
    order[dc] = orderOf(i);
  }

  const mapOverDomain = (src: Float32Array | undefined, channels: number) => {
    if (!src) return undefined;
    const out = sharedFloat32(domainCells * channels);
    out.fill(NaN);
    for (let c = 0; c < diCells; c++) {
      const dc = domainCell(c);
      for (let ch = 0; ch < channels; ch++) out[dc * channels + ch] = src[c * channels + ch];
    }
    return out;
  };
  const nMapChannels = p.nMap ? p.nMap.data.length / diCells : 0;
  let maxK = p.k;
  if (p.kMap) for (const k of p.kMap) if (k > maxK) maxK = k;

  const domainOffsets = new Int32Array(kernel.count);
  for (let j = 0; j < kernel.count; j++) {
    domainOffsets[j] =
      (kernel.offsets[3 * j] * dims[1] + kernel.offsets[3 * j + 1]) * dims[2] + kernel.offsets[3 * j + 2];
  }
  const tis = p.tis.map((ti, t) =>
    prepareTi(ti, rank, !!p.periodicTi, kernel.size, describe(options.labels, t)),
  );
  const n = new Int32Array(V);
  for (let v = 0; v < V; v++) n[v] = p.n[v % p.n.length];

  const shared: SharedPlan = {
    vars: V,
    kinds: Uint8Array.from(p.kinds.map((k) => (k === 'categorical' ? 1 : 0))),
    rank,
    domain: { dims, halo, inner },
    values,
    index,
    order,
    ready,
    path,
    draws,
    positionDone: sharedUint8(M),
    kernel: { count: kernel.count, offsets: kernel.offsets, weights: kernel.weights, domainOffsets },
    n,
    k: p.k,
    maxK,
    force: !!p.forceSimulation,
    nanMode: tis.some((t) => t.completeCells < t.cells),
    periodic: !!p.periodicTi,
    tis,
    nMap: mapOverDomain(p.nMap?.data, nMapChannels),
    nMapChannels,
    kMap: mapOverDomain(p.kMap, 1),
    tiMap: mapOverDomain(p.tiIndexMap, 1),
    varStats: variableStats(p),
    ranks: options.recordRanks ? sharedInt32(M).fill(-1) : undefined,
    control: sharedInt32(CONTROL.WAITING + MAX_THREADS),
    log: sharedInt32(M),
  };
  shared.control[CONTROL.END] = M;
  return { shared, kernel, path: built, domainCell, innerCell };
}

/** The DI-shaped simulation and index image (the domain without its halo). */
export function cropResult(plan: SimulationPlan, shape: number[]): { sim: QsGrid; index: Uint32Array } {
  const { values, index, vars: V, domain } = plan.shared;
  const cells = domain.inner[0] * domain.inner[1] * domain.inner[2];
  const data = new Float32Array(cells * V);
  const idx = new Uint32Array(cells);
  for (let c = 0; c < cells; c++) {
    const dc = plan.domainCell(c);
    for (let v = 0; v < V; v++) data[c * V + v] = values[dc * V + v];
    idx[c] = index[dc];
  }
  return { sim: { shape: [...shape], vars: V, data }, index: idx };
}
