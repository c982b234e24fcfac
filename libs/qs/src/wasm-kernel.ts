/**
 * The WebAssembly side of the candidate search (libs/qs/assembly/kernel.ts): one instance per kernel thread,
 * with its own copy of the training images in planar float32 layout (a variable's values contiguous, so
 * that four neighbouring candidates load as one SIMD vector).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SharedPlan } from './plan';

interface KernelExports {
  memory: WebAssembly.Memory;
  ensureMemory(bytes: number): number;
  distance(base: number, terms: number, nTerms: number): number;
  scan(
    ti: number,
    pd1: number,
    pd2: number,
    pad0: number,
    pad1: number,
    pad2: number,
    d1: number,
    d2: number,
    lo0: number,
    hi0: number,
    lo1: number,
    hi1: number,
    lo2: number,
    hi2: number,
    terms: number,
    nTerms: number,
    kind: number,
    bound: number,
    t: number,
    nTI: number,
    draw: number,
    heap: number,
    cap: number,
    K: number,
  ): void;
}

export const KERNEL_WASM = join(__dirname, '..', 'wasm', 'qs-kernel.wasm');

/** Compiles the kernel once per process (the module is then shared with threads). */
export function loadKernelModule(): WebAssembly.Module {
  if (!existsSync(KERNEL_WASM)) {
    throw new Error(
      `the QS WebAssembly kernel is missing (${KERNEL_WASM}); run 'npm run build' in the dqs folder`,
    );
  }
  return new WebAssembly.Module(readFileSync(KERNEL_WASM));
}

const align = (n: number) => (n + 15) & ~15;
/** Bytes of one term record (kernel.ts TERM). */
const TERM_BYTES = 48;

export class WasmScanner {
  private readonly k: KernelExports;
  private readonly tiPtr: number[] = [];
  private readonly planeSize: number[] = [];
  private readonly terms: number;
  private readonly heap: number;
  /** Kind of the current terms: 0 all continuous, 1 all categorical, 2 mixed. */
  private kind = 0;
  readonly cap: number;
  private f32!: Float32Array;
  private i32!: Int32Array;

  constructor(module: WebAssembly.Module, plan: SharedPlan, maxTerms: number) {
    this.k = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
    const V = plan.vars;
    let at = 1024;
    for (const ti of plan.tis) {
      const cells = ti.paddedDims[0] * ti.paddedDims[1] * ti.paddedDims[2];
      this.tiPtr.push(at);
      this.planeSize.push(cells);
      at = align(at + 4 * (cells * V + 64));
    }
    this.terms = at;
    this.heap = align(this.terms + TERM_BYTES * maxTerms);
    this.cap = Math.max(1, Math.ceil(plan.maxK));
    this.k.ensureMemory(this.heap + 16 + 16 * this.cap + 64);
    this.views();
    plan.tis.forEach((ti, t) => {
      const cells = this.planeSize[t];
      const base = this.tiPtr[t] / 4;
      for (let v = 0; v < V; v++) {
        const plane = base + v * cells;
        for (let c = 0; c < cells; c++) this.f32[plane + c] = ti.data[c * V + v];
      }
    });
  }

  private views(): void {
    const buf = this.k.memory.buffer;
    this.f32 = new Float32Array(buf);
    this.i32 = new Int32Array(buf);
  }

  /**
   * Writes the terms for TI t as the kernel's records: value and weight (float32, four times each, for SIMD),
   * spatial offset (in cells of the padded TI) plus the variable's plane, and whether it is categorical.
   */
  setTerms(
    t: number,
    n: number,
    spatial: Int32Array,
    vars: Int32Array,
    vals: Float64Array,
    ws: Float64Array,
    cats: Uint8Array,
  ): void {
    const plane = this.planeSize[t];
    let continuous = 0;
    for (let m = 0; m < n; m++) {
      const r = (this.terms + TERM_BYTES * m) / 4;
      this.f32.fill(vals[m], r, r + 4);
      this.f32.fill(ws[m], r + 4, r + 8);
      this.i32[r + 8] = spatial[m] + vars[m] * plane;
      this.i32[r + 9] = cats[m];
      if (cats[m] === 0) continuous++;
    }
    this.kind = continuous === n ? 0 : continuous === 0 ? 1 : 2;
  }

  /** float32 mismatch of the candidate at padded cell `cell` of TI t (same arithmetic as scan). */
  distance(t: number, cell: number, n: number): number {
    return this.k.distance(this.tiPtr[t] + 4 * cell, this.terms, n);
  }

  resetList(): void {
    this.i32[this.heap / 4] = 0;
  }

  scan(
    t: number,
    dims: readonly number[],
    pd: readonly number[],
    pad: readonly number[],
    lo: Int32Array,
    hi: Int32Array,
    n: number,
    bound: number,
    nTI: number,
    draw: number,
    K: number,
  ): void {
    const b = 3 * t;
    this.k.scan(
      this.tiPtr[t],
      pd[1],
      pd[2],
      pad[0],
      pad[1],
      pad[2],
      dims[1],
      dims[2],
      lo[b],
      hi[b],
      lo[b + 1],
      hi[b + 1],
      lo[b + 2],
      hi[b + 2],
      this.terms,
      n,
      this.kind,
      bound,
      t,
      nTI,
      draw >>> 0,
      this.heap,
      this.cap,
      K,
    );
  }

  listSize(): number {
    return this.i32[this.heap / 4];
  }

  /** The r-th best candidate: [TI cell (flat, unpadded), TI id]. */
  listEntry(r: number): [number, number] {
    const base = (this.heap + 16) / 4;
    return [this.i32[base + 2 * this.cap + r], this.i32[base + 3 * this.cap + r]];
  }
}
