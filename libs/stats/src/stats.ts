/**
 * Statistics that compare a simulation with its training image, as G2S users and the reference runs use them:
 * value distribution (KS distance) or class proportions, directional (indicator) variograms, and verbatim
 * adjacency from the index image. 2D grids, first variable; NaN cells are left out.
 */

export interface Image2d {
  rows: number;
  cols: number;
  /** rows * cols values, row-major; NaN = missing. */
  data: ArrayLike<number>;
}

export interface Variogram {
  lags: number[];
  /** Along rows = lag in the row index (vertical); along cols = lag in the column index (horizontal). */
  rows: number[];
  cols: number[];
}

/** Semivariogram 0.5 * mean((z(x) - z(x + h))^2) for lags 1..maxLag along each axis. */
export function variogram(
  img: Image2d,
  maxLag: number,
  transform: (v: number) => number = (v) => v,
): Variogram {
  const lags: number[] = [];
  const rows: number[] = [];
  const cols: number[] = [];
  for (let h = 1; h <= maxLag; h++) {
    lags.push(h);
    let sr = 0;
    let nr = 0;
    let sc = 0;
    let nc = 0;
    for (let r = 0; r < img.rows; r++) {
      for (let c = 0; c < img.cols; c++) {
        const a = img.data[r * img.cols + c];
        if (a !== a) continue;
        const za = transform(a);
        if (r + h < img.rows) {
          const b = img.data[(r + h) * img.cols + c];
          if (b === b) {
            const d = za - transform(b);
            sr += d * d;
            nr++;
          }
        }
        if (c + h < img.cols) {
          const b = img.data[r * img.cols + c + h];
          if (b === b) {
            const d = za - transform(b);
            sc += d * d;
            nc++;
          }
        }
      }
    }
    rows.push(nr > 0 ? sr / (2 * nr) : NaN);
    cols.push(nc > 0 ? sc / (2 * nc) : NaN);
  }
  return { lags, rows, cols };
}

/** Mean of |sim - ti| / ti over the lags where the TI's value is positive. */
export function relativeError(sim: number[], ti: number[]): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < ti.length; i++) {
    if (!(ti[i] > 0) || !Number.isFinite(sim[i])) continue;
    s += Math.abs(sim[i] - ti[i]) / ti[i];
    n++;
  }
  return n > 0 ? s / n : NaN;
}

function finiteSorted(data: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) out.push(data[i]);
  return Float64Array.from(out).sort();
}

/** Two-sample Kolmogorov-Smirnov distance between the value distributions. */
export function ksDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = finiteSorted(a);
  const y = finiteSorted(b);
  if (x.length === 0 || y.length === 0) return NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= v) i++;
    while (j < y.length && y[j] <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

export function meanStd(data: ArrayLike<number>): { mean: number; std: number } {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    n++;
    s += v;
    s2 += v * v;
  }
  const mean = n ? s / n : NaN;
  return { mean, std: n ? Math.sqrt(Math.max(0, s2 / n - mean * mean)) : NaN };
}

/** Histograms of two samples over common bins spanning both (fractions of finite values). */
export function histograms(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bins: number,
): { edges: number[]; ti: number[]; sim: number[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of [a, b]) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo)) return { edges: [], ti: [], sim: [] };
  const width = hi > lo ? (hi - lo) / bins : 1;
  const count = (x: ArrayLike<number>) => {
    const h = new Array<number>(bins).fill(0);
    let n = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) continue;
      h[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
      n++;
    }
    return h.map((c) => c / Math.max(1, n));
  };
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), ti: count(a), sim: count(b) };
}

export function classProportions(data: ArrayLike<number>): Map<number, number> {
  const counts = new Map<number, number>();
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) continue;
    counts.set(v, (counts.get(v) ?? 0) + 1);
    n++;
  }
  const out = new Map<number, number>();
  [...counts.keys()].sort((a, b) => a - b).forEach((k) => out.set(k, counts.get(k)! / n));
  return out;
}

/**
 * Fraction of horizontally (vertically) adjacent cell pairs whose TI positions are adjacent the same way:
 * index differs by +nTI (+tiCols * nTI) with index = tiCell * nTI + tiId. Higher = more verbatim copy.
 * Every pair counts in the denominator, as in the G2S reference figures.
 */
export function verbatimAdjacency(
  index: ArrayLike<number>,
  rows: number,
  cols: number,
  tiCols: number,
  nTI = 1,
): { h: number; v: number } {
  let h = 0;
  let v = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const a = index[r * cols + c];
      if (c + 1 < cols && index[r * cols + c + 1] === a + nTI && Math.floor(a / nTI) % tiCols !== tiCols - 1)
        h++;
      if (r + 1 < rows && index[(r + 1) * cols + c] === a + tiCols * nTI) v++;
    }
  }
  return { h: h / Math.max(1, rows * (cols - 1)), v: v / Math.max(1, (rows - 1) * cols) };
}

/** Mean length of runs of one class along rows (horizontal) and along columns (vertical). */
export function meanRunLength(img: Image2d, cls: number): { h: number; v: number } {
  const runs = (len: number, get: (i: number) => number) => {
    let total = 0;
    let count = 0;
    let cur = 0;
    for (let i = 0; i <= len; i++) {
      if (i < len && get(i) === cls) cur++;
      else if (cur > 0) {
        total += cur;
        count++;
        cur = 0;
      }
    }
    return [total, count];
  };
  let th = 0;
  let ch = 0;
  for (let r = 0; r < img.rows; r++) {
    const [t, c] = runs(img.cols, (i) => img.data[r * img.cols + i]);
    th += t;
    ch += c;
  }
  let tv = 0;
  let cv = 0;
  for (let c0 = 0; c0 < img.cols; c0++) {
    const [t, c] = runs(img.rows, (i) => img.data[i * img.cols + c0]);
    tv += t;
    cv += c;
  }
  return { h: ch ? th / ch : 0, v: cv ? tv / cv : 0 };
}

export interface ComparisonReport {
  kind: 'continuous' | 'categorical';
  shape: [number, number];
  sim: { mean: number; std: number };
  ti: { mean: number; std: number };
  /** Continuous: KS distance of the value distributions. */
  ks?: number;
  /** Continuous: histograms of TI and simulation values over the same bins (fractions). */
  histogram?: { edges: number[]; ti: number[]; sim: number[] };
  /** Categorical: proportion of each class in the TI and in the simulation. */
  proportions?: { class: number; ti: number; sim: number }[];
  /** Variograms (categorical: indicator variogram of each class, keyed by class). */
  variograms: { label: string; ti: Variogram; sim: Variogram; relErr: { rows: number; cols: number } }[];
  verbatimAdjacency?: { h: number; v: number };
  /** Categorical: mean run lengths of each class (channel anisotropy). */
  runLengths?: { class: number; ti: { h: number; v: number }; sim: { h: number; v: number } }[];
}

export function compareWithTi(
  ti: Image2d,
  sim: Image2d,
  options: { categorical?: boolean; maxLag?: number; index?: ArrayLike<number>; nTI?: number } = {},
): ComparisonReport {
  const maxLag = Math.max(1, Math.min(options.maxLag ?? 30, Math.max(1, Math.min(sim.rows, sim.cols) - 1)));
  const report: ComparisonReport = {
    kind: options.categorical ? 'categorical' : 'continuous',
    shape: [sim.rows, sim.cols],
    sim: meanStd(sim.data),
    ti: meanStd(ti.data),
    variograms: [],
  };
  if (options.categorical) {
    const pt = classProportions(ti.data);
    const ps = classProportions(sim.data);
    const classes = [...new Set([...pt.keys(), ...ps.keys()])].sort((a, b) => a - b);
    report.proportions = classes.map((c) => ({ class: c, ti: pt.get(c) ?? 0, sim: ps.get(c) ?? 0 }));
    report.runLengths = [];
    for (const c of classes) {
      const ind = (v: number) => (v === c ? 1 : 0);
      const vt = variogram(ti, maxLag, ind);
      const vs = variogram(sim, maxLag, ind);
      report.variograms.push({
        label: `class ${c}`,
        ti: vt,
        sim: vs,
        relErr: { rows: relativeError(vs.rows, vt.rows), cols: relativeError(vs.cols, vt.cols) },
      });
      report.runLengths.push({ class: c, ti: meanRunLength(ti, c), sim: meanRunLength(sim, c) });
    }
  } else {
    report.ks = ksDistance(sim.data, ti.data);
    report.histogram = histograms(ti.data, sim.data, 30);
    const vt = variogram(ti, maxLag);
    const vs = variogram(sim, maxLag);
    report.variograms.push({
      label: 'values',
      ti: vt,
      sim: vs,
      relErr: { rows: relativeError(vs.rows, vt.rows), cols: relativeError(vs.cols, vt.cols) },
    });
  }
  if (options.index) {
    report.verbatimAdjacency = verbatimAdjacency(
      options.index,
      sim.rows,
      sim.cols,
      ti.cols,
      options.nTI ?? 1,
    );
  }
  return report;
}
