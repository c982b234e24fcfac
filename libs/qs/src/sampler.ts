/**
 * The per-pixel work of QS (spec §9.1), run inside kernel threads.
 *
 * Candidate search is the exact direct sum with early abandoning: a candidate's mismatch only grows as terms are
 * added, so once it exceeds the current k-th best it cannot be kept. Ties are broken by a key hashed from the
 * pixel's draw and the candidate's position, so the kept set does not depend on scan order: this lets the scan
 * start from "coherent" candidates (where the neighbours were copied from) to tighten the bound early, and it
 * keeps tie-breaking uniform (no directional artefact on categorical images).
 */
import { CONTROL, SharedPlan, SharedTi } from './plan';
import { mix32, unitFromDraw } from './rng';
import { NOT_SIMULATED } from './types';
import { WasmScanner } from './wasm-kernel';

/** Thrown inside a thread to unwind when the run is cancelled while waiting. */
export const CANCELLED = Symbol('cancelled');

export class PixelSampler {
  private readonly V: number;
  private readonly nTI: number;
  // neighbour records
  private readonly need: Int32Array;
  private readonly cnt: Int32Array;
  private readonly recJ: Int32Array;
  private readonly recVal: Float32Array;
  // mismatch terms
  private readonly tH: Int32Array;
  private readonly tVar: Int32Array;
  private readonly tVal: Float64Array;
  private readonly tW: Float64Array;
  private readonly tCat: Uint8Array;
  private readonly tOff: Int32Array;
  private readonly tExp: Float64Array;
  private readonly tOrder: Int32Array;
  private nTerms = 0;
  private readonly bbMin = new Int32Array(3);
  private readonly bbMax = new Int32Array(3);
  // candidate list: the K best (distance, key, TI cell, TI id), sorted ascending
  private readonly hD: Float64Array;
  private readonly hKey: Uint32Array;
  private readonly hX: Int32Array;
  private readonly hT: Int32Array;
  private hSize = 0;
  private K = 1;
  private draw = 0;
  private readonly searched: Int32Array;
  private nSearched = 0;
  private readonly lo: Int32Array;
  private readonly hi: Int32Array;
  private readonly pre: Float64Array;
  private readonly tSpatial: Int32Array;
  private readonly wasm: WasmScanner;

  constructor(
    private readonly plan: SharedPlan,
    private readonly slot: number,
    kernelModule: WebAssembly.Module,
  ) {
    const V = (this.V = plan.vars);
    this.nTI = plan.tis.length;
    const maxRec = plan.kernel.count;
    this.need = new Int32Array(V);
    this.cnt = new Int32Array(V);
    this.recJ = new Int32Array(maxRec);
    this.recVal = new Float32Array(maxRec * V);
    const maxTerms = maxRec * V;
    this.tH = new Int32Array(maxTerms * 3);
    this.tVar = new Int32Array(maxTerms);
    this.tVal = new Float64Array(maxTerms);
    this.tW = new Float64Array(maxTerms);
    this.tCat = new Uint8Array(maxTerms);
    this.tOff = new Int32Array(maxTerms);
    this.tExp = new Float64Array(maxTerms);
    this.tOrder = new Int32Array(maxTerms);
    const cap = Math.max(1, Math.ceil(plan.maxK));
    this.hD = new Float64Array(cap);
    this.hKey = new Uint32Array(cap);
    this.hX = new Int32Array(cap);
    this.hT = new Int32Array(cap);
    this.searched = new Int32Array(this.nTI);
    this.lo = new Int32Array(3 * this.nTI);
    this.hi = new Int32Array(3 * this.nTI);
    this.pre = new Float64Array(maxRec);
    this.tSpatial = new Int32Array(maxTerms);
    this.wasm = new WasmScanner(kernelModule, plan, maxTerms);
  }

  /** Simulates path position i. Throws CANCELLED if the run is cancelled while waiting for a neighbour. */
  simulate(i: number): void {
    const p = this.plan;
    const V = this.V;
    const c = p.path[i];
    this.draw = p.draws[i];
    const values = p.values;
    if (!p.force) {
      let full = true;
      for (let v = 0; v < V; v++) if (values[c * V + v] !== values[c * V + v]) full = false;
      if (full) return this.finish(c);
    }
    const nRec = this.gatherNeighbours(c, p.order[c]);
    this.buildTerms(nRec);
    const u = unitFromDraw(this.draw);
    this.chooseTis(c);
    if (this.nTerms === 0 && nRec <= 1) return this.copyMarginal(c, u);
    const kPix = p.kMap && p.kMap[c] > 0 ? p.kMap[c] : p.k;
    this.K = Math.ceil(kPix);
    this.hSize = 0;
    if (p.nanMode) {
      for (let s = 0; s < this.nSearched; s++) this.scanNanMode(this.searched[s]);
    } else {
      this.wasm.resetList();
      const bound = this.coherentBound(nRec, c);
      for (let s = 0; s < this.nSearched; s++) {
        const t = this.searched[s];
        const ti = p.tis[t];
        this.setWasmTerms(t);
        this.wasm.scan(
          t,
          ti.dims,
          ti.paddedDims,
          ti.pad,
          this.lo,
          this.hi,
          this.nTerms,
          bound,
          this.nTI,
          this.draw,
          this.K,
        );
      }
      this.hSize = this.wasm.listSize();
    }
    if (this.hSize === 0) return this.copyMarginal(c, u);
    const m = this.nSearched;
    const kEff = (kPix * Math.ceil(m / kPix)) / m; // G2S's effective k with several TIs
    let r = Math.floor(u * kEff);
    if (r >= this.hSize) r = this.hSize - 1;
    if (p.ranks) p.ranks[i] = r;
    if (p.nanMode) this.copyFrom(c, this.hT[r], this.hX[r]);
    else {
      const [flat, t] = this.wasm.listEntry(r);
      this.copyFrom(c, t, flat);
    }
  }

  private gatherNeighbours(c: number, o: number): number {
    const p = this.plan;
    const V = this.V;
    const { order, ready, values } = p;
    const offs = p.kernel.offsets;
    const dOff = p.kernel.domainOffsets;
    const need = this.need;
    const cnt = this.cnt;
    for (let v = 0; v < V; v++) {
      let n = p.n[v];
      if (p.nMap) {
        const ch = p.nMapChannels === 1 ? 0 : v;
        const local = p.nMap[c * p.nMapChannels + ch];
        if (local >= 1) n = Math.floor(local);
      }
      need[v] = n;
      cnt[v] = 0;
    }
    let remaining = V;
    let nRec = 0;
    const bbMin = this.bbMin;
    const bbMax = this.bbMax;
    bbMin.fill(0);
    bbMax.fill(0);
    const count = p.kernel.count;
    for (let j = 0; j < count && remaining > 0; j++) {
      const q = c + dOff[j];
      if (order[q] > o) continue;
      if (q !== c && Atomics.load(ready, q) === 0) this.waitFor(q);
      const base = nRec * V;
      for (let v = 0; v < V; v++) {
        if (cnt[v] < need[v]) {
          this.recVal[base + v] = values[q * V + v];
          if (++cnt[v] === need[v]) remaining--;
        } else this.recVal[base + v] = NaN;
      }
      this.recJ[nRec++] = j;
      for (let d = 0; d < 3; d++) {
        const h = offs[3 * j + d];
        if (h < bbMin[d]) bbMin[d] = h;
        if (h > bbMax[d]) bbMax[d] = h;
      }
    }
    return nRec;
  }

  private waitFor(q: number): void {
    const { ready, control } = this.plan;
    Atomics.store(control, CONTROL.WAITING + this.slot, q);
    while (Atomics.load(ready, q) === 0) {
      if (Atomics.load(control, CONTROL.CANCEL) !== 0) {
        Atomics.store(control, CONTROL.WAITING + this.slot, -1);
        throw CANCELLED;
      }
      Atomics.wait(ready, q, 0, 50);
    }
    Atomics.store(control, CONTROL.WAITING + this.slot, -1);
  }

  /**
   * The mismatch terms (one per informed neighbour value with a non-zero weight), largest expected
   * contribution first: w * ((v - mean)^2 + variance) for continuous values, w * P(category != v) for
   * categorical ones. The order changes which candidates are abandoned early, never which are kept.
   */
  private buildTerms(nRec: number): void {
    const p = this.plan;
    const V = this.V;
    const offs = p.kernel.offsets;
    const w = p.kernel.weights;
    const stats = p.varStats;
    const order = this.tOrder;
    const exp = this.tExp;
    let t = 0;
    for (let r = 0; r < nRec; r++) {
      const j = this.recJ[r];
      for (let v = 0; v < V; v++) {
        const val = this.recVal[r * V + v];
        const weight = w[j * V + v];
        if (val !== val || weight === 0) continue;
        let e: number;
        if (p.kinds[v] === 1) {
          let f = 0;
          const cats = stats.categories[v];
          for (let a = 0; a < cats.length; a++) if (cats[a] === val) f = stats.frequencies[v][a];
          e = weight * (1 - f);
        } else {
          const dm = val - stats.mean[v];
          e = weight * (dm * dm + stats.variance[v]);
        }
        // insertion into the order, descending expected size (stable)
        let at = t;
        while (at > 0 && exp[order[at - 1]] < e) {
          order[at] = order[at - 1];
          at--;
        }
        order[at] = t;
        exp[t] = e;
        this.tH[3 * t] = offs[3 * j];
        this.tH[3 * t + 1] = offs[3 * j + 1];
        this.tH[3 * t + 2] = offs[3 * j + 2];
        this.tVar[t] = v;
        this.tVal[t] = val;
        this.tW[t] = weight;
        this.tCat[t] = p.kinds[v];
        t++;
      }
    }
    this.nTerms = t;
    // apply the order
    const n = t;
    const copy = (src: Float64Array | Int32Array | Uint8Array, stride: number) => {
      const buf = src.slice(0, n * stride);
      for (let a = 0; a < n; a++)
        for (let s = 0; s < stride; s++) src[a * stride + s] = buf[order[a] * stride + s];
    };
    copy(this.tH, 3);
    copy(this.tVar, 1);
    copy(this.tVal, 1);
    copy(this.tW, 1);
    copy(this.tCat, 1);
  }

  /** Which TIs this cell searches (-ii), and each one's valid candidate box for the pattern's bounding box. */
  private chooseTis(c: number): void {
    const p = this.plan;
    this.nSearched = 0;
    const only = p.tiMap ? p.tiMap[c] : NaN;
    for (let t = 0; t < this.nTI; t++) {
      if (only === only && only !== t) continue;
      this.searched[this.nSearched++] = t;
      const dims = p.tis[t].dims;
      for (let d = 0; d < 3; d++) {
        if (p.periodic) {
          this.lo[3 * t + d] = 0;
          this.hi[3 * t + d] = dims[d] - 1;
        } else {
          this.lo[3 * t + d] = -this.bbMin[d];
          this.hi[3 * t + d] = dims[d] - 1 - this.bbMax[d];
        }
      }
    }
  }

  private setTermOffsets(ti: SharedTi): void {
    const V = this.V;
    const s1 = ti.paddedDims[2];
    const s0 = ti.paddedDims[1] * s1;
    for (let m = 0; m < this.nTerms; m++) {
      this.tOff[m] = (this.tH[3 * m] * s0 + this.tH[3 * m + 1] * s1 + this.tH[3 * m + 2]) * V + this.tVar[m];
    }
  }

  private setWasmTerms(t: number): void {
    const ti = this.plan.tis[t];
    const s1 = ti.paddedDims[2];
    const s0 = ti.paddedDims[1] * s1;
    for (let m = 0; m < this.nTerms; m++) {
      this.tSpatial[m] = this.tH[3 * m] * s0 + this.tH[3 * m + 1] * s1 + this.tH[3 * m + 2];
    }
    this.wasm.setTerms(t, this.nTerms, this.tSpatial, this.tVar, this.tVal, this.tW, this.tCat);
  }

  /**
   * An upper bound on the K-th best mismatch from the candidates that continue the neighbours' own TI
   * positions (usually among the best): scanning can then abandon candidates from the start.
   */
  private coherentBound(nRec: number, c: number): number {
    const p = this.plan;
    if (nRec < 2 || this.nTerms === 0) return Infinity;
    const nTI = this.nTI;
    const offs = p.kernel.offsets;
    const dOff = p.kernel.domainOffsets;
    const keys = this.pre;
    let nk = 0;
    for (let r = 0; r < nRec; r++) {
      const j = this.recJ[r];
      const idx = p.index[c + dOff[j]];
      if (idx === NOT_SIMULATED) continue;
      const t = idx % nTI;
      if (!this.isSearched(t)) continue;
      const dims = p.tis[t].dims;
      const flat = (idx - t) / nTI;
      const x = (flat % dims[2]) - offs[3 * j + 2];
      const y = (Math.floor(flat / dims[2]) % dims[1]) - offs[3 * j + 1];
      const z = Math.floor(flat / (dims[1] * dims[2])) - offs[3 * j];
      if (
        z < this.lo[3 * t] ||
        z > this.hi[3 * t] ||
        y < this.lo[3 * t + 1] ||
        y > this.hi[3 * t + 1] ||
        x < this.lo[3 * t + 2] ||
        x > this.hi[3 * t + 2]
      ) {
        continue;
      }
      keys[nk++] = ((z * dims[1] + y) * dims[2] + x) * nTI + t;
    }
    if (nk < this.K) return Infinity;
    const sorted = keys.subarray(0, nk).sort();
    const dist: number[] = [];
    let lastTi = -1;
    for (let a = 0; a < nk; a++) {
      if (a > 0 && sorted[a] === sorted[a - 1]) continue;
      const t = sorted[a] % nTI;
      const ti = p.tis[t];
      if (t !== lastTi) {
        this.setWasmTerms(t);
        lastTi = t;
      }
      const flat = (sorted[a] - t) / nTI;
      dist.push(this.wasm.distance(t, this.paddedBase(ti, flat) / this.V, this.nTerms));
    }
    if (dist.length < this.K) return Infinity;
    dist.sort((a, b) => a - b);
    return dist[this.K - 1];
  }

  private isSearched(t: number): boolean {
    for (let s = 0; s < this.nSearched; s++) if (this.searched[s] === t) return true;
    return false;
  }

  private paddedBase(ti: SharedTi, flat: number): number {
    const d = ti.dims;
    const x = flat % d[2];
    const y = Math.floor(flat / d[2]) % d[1];
    const z = Math.floor(flat / (d[1] * d[2]));
    const pd = ti.paddedDims;
    return (((z + ti.pad[0]) * pd[1] + (y + ti.pad[1])) * pd[2] + (x + ti.pad[2])) * this.V;
  }

  /** TI with NaN: rank by |masked mismatch| / overlap^4 (G2S's normalisation), centre must be known. */
  private scanNanMode(t: number): void {
    const ti = this.plan.tis[t];
    this.setTermOffsets(ti);
    const data = ti.data;
    const V = this.V;
    const pd = ti.paddedDims;
    const dims = ti.dims;
    for (let z = this.lo[3 * t]; z <= this.hi[3 * t]; z++) {
      for (let y = this.lo[3 * t + 1]; y <= this.hi[3 * t + 1]; y++) {
        const rowPadded = ((z + ti.pad[0]) * pd[1] + (y + ti.pad[1])) * pd[2] + ti.pad[2];
        const rowFlat = (z * dims[1] + y) * dims[2];
        for (let x = this.lo[3 * t + 2]; x <= this.hi[3 * t + 2]; x++) {
          const base = (rowPadded + x) * V;
          if (data[base] !== data[base]) continue;
          let d = 0;
          let cross = 0;
          for (let m = 0; m < this.nTerms; m++) {
            const tv = data[base + this.tOff[m]];
            if (tv !== tv) continue;
            cross += this.tW[m];
            if (this.tCat[m] === 1) {
              if (tv !== this.tVal[m]) d += this.tW[m];
            } else {
              const diff = tv - this.tVal[m];
              d += this.tW[m] * diff * diff;
            }
          }
          if (this.nTerms > 0 && cross === 0) continue;
          const score = this.nTerms > 0 ? Math.abs(d) / (cross * cross * cross * cross) : 0;
          this.offer(score, rowFlat + x, t);
        }
      }
    }
  }

  /** Offers a candidate to the sorted K-best list; returns true when the list is full after it. */
  private offer(d: number, flat: number, t: number): boolean {
    const K = this.K;
    const hD = this.hD;
    const hKey = this.hKey;
    let size = this.hSize;
    if (size === K && d > hD[K - 1]) return true;
    const key = mix32(this.draw ^ mix32(flat * this.nTI + t + 0x9e3779b9));
    if (size === K) {
      const wd = hD[K - 1];
      const wk = hKey[K - 1];
      if (
        d === wd &&
        (key > wk || (key === wk && flat * this.nTI + t > this.hX[K - 1] * this.nTI + this.hT[K - 1]))
      ) {
        return true;
      }
      size--; // drop the worst
    }
    let at = size;
    while (at > 0 && (hD[at - 1] > d || (hD[at - 1] === d && hKey[at - 1] > key))) {
      hD[at] = hD[at - 1];
      hKey[at] = hKey[at - 1];
      this.hX[at] = this.hX[at - 1];
      this.hT[at] = this.hT[at - 1];
      at--;
    }
    hD[at] = d;
    hKey[at] = key;
    this.hX[at] = flat;
    this.hT[at] = t;
    this.hSize = size + 1;
    return this.hSize === K;
  }

  /** No informed neighbour: a uniformly drawn complete TI cell (G2S draws over all TIs; dqs honours -ii). */
  private copyMarginal(c: number, u: number): void {
    const p = this.plan;
    let total = 0;
    for (let s = 0; s < this.nSearched; s++) total += p.tis[this.searched[s]].cells;
    let target = Math.floor(u * total);
    let t = -1;
    let flat = -1;
    for (let s = 0; s < this.nSearched; s++) {
      const ti = p.tis[this.searched[s]];
      if (target < ti.cells) {
        t = this.searched[s];
        flat = target;
        break;
      }
      target -= ti.cells;
    }
    if (
      p.nanMode &&
      p.tis[t].data[this.paddedBase(p.tis[t], flat)] !== p.tis[t].data[this.paddedBase(p.tis[t], flat)]
    ) {
      let complete = 0;
      for (let s = 0; s < this.nSearched; s++) complete += p.tis[this.searched[s]].completeCells;
      let k = Math.floor(u * complete);
      outer: for (let s = 0; s < this.nSearched; s++) {
        const ti = p.tis[this.searched[s]];
        for (let f = 0; f < ti.cells; f++) {
          const b = this.paddedBase(ti, f);
          if (ti.data[b] !== ti.data[b]) continue;
          if (k-- === 0) {
            t = this.searched[s];
            flat = f;
            break outer;
          }
        }
      }
    }
    this.copyFrom(c, t, flat);
  }

  private copyFrom(c: number, t: number, flat: number): void {
    const p = this.plan;
    const V = this.V;
    const ti = p.tis[t];
    const base = this.paddedBase(ti, flat);
    for (let v = 0; v < V; v++) {
      const at = c * V + v;
      if (p.force || p.values[at] !== p.values[at]) p.values[at] = ti.data[base + v];
    }
    p.index[c] = flat * this.nTI + t;
    this.finish(c);
  }

  private finish(c: number): void {
    const ready = this.plan.ready;
    Atomics.store(ready, c, 1);
    Atomics.notify(ready, c);
  }
}
