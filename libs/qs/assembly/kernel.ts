// The hot loop of QS in AssemblyScript (compiled to WebAssembly with SIMD by `npm run build`).
//
// scan() visits every valid candidate position of one training image, sixteen neighbouring candidates at a
// time (four SIMD vectors of a variable's plane, where they are contiguous), sums the mismatch terms in
// float32, abandons the sixteen once all exceed the threshold, and offers the survivors to the sorted K-best
// list. Sixteen lanes with one test per term keep the four accumulation chains independent and the exit
// branch rare; the extra terms a group pays for its slowest lane cost less than that. distance() is the
// same sum for one candidate, in the same order of float32 operations, so both give bit-identical values.
//
// Terms are records of TERM bytes: value splat (f32x4) at +0, weight splat (f32x4) at +16, offset in floats
// from the candidate's cell (plane of the variable included, i32) at +32, 1 if categorical (i32) at +36.
// A categorical term adds its weight when the TI value differs; a continuous one w * (T - v)^2.
// List at `heap`: size (i32) at +0, then cap distances (f32), cap keys (u32), cap cells (i32), cap TI ids (i32),
// kept in increasing (distance, key, candidate id) order: a total order, so the kept set does not depend on
// the order in which candidates are offered.

export const TERM: usize = 48;

@inline
function mix32(x: u32): u32 {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

/** float32 mismatch of the candidate whose cell starts at byte `base` (same arithmetic as scan). */
export function distance(base: usize, terms: usize, nTerms: i32): f32 {
  let d: f32 = 0;
  const end = terms + <usize>nTerms * TERM;
  for (let p = terms; p < end; p += TERM) {
    const tv = load<f32>(base + (<usize>load<i32>(p, 32) << 2));
    const val = load<f32>(p);
    const w = load<f32>(p, 16);
    if (load<i32>(p, 36) != 0) {
      d = d + (tv != val ? w : <f32>0);
    } else {
      const diff = tv - val;
      d = d + w * (diff * diff);
    }
  }
  return d;
}

/** Offers a candidate; returns the list's current threshold (its worst distance when full, else +inf). */
export function offer(heap: usize, cap: i32, K: i32, d: f32, flat: i32, t: i32, nTI: i32, draw: u32): f32 {
  const dPtr = heap + 16;
  const kPtr = dPtr + (<usize>cap << 2);
  const xPtr = kPtr + (<usize>cap << 2);
  const tPtr = xPtr + (<usize>cap << 2);
  let size = load<i32>(heap);
  const id: u32 = <u32>flat * <u32>nTI + <u32>t;
  const key = mix32(draw ^ mix32(id + 0x9e3779b9));
  if (size == K) {
    const last = <usize>(K - 1) << 2;
    const wd = load<f32>(dPtr + last);
    if (d > wd) return wd;
    if (d == wd) {
      const wk = load<u32>(kPtr + last);
      const wid: u32 = <u32>load<i32>(xPtr + last) * <u32>nTI + <u32>load<i32>(tPtr + last);
      if (key > wk || (key == wk && id > wid)) return wd;
    }
    size--;
  }
  let at = size;
  while (at > 0) {
    const p = <usize>(at - 1) << 2;
    const pd = load<f32>(dPtr + p);
    if (pd < d) break;
    if (pd == d) {
      const pk = load<u32>(kPtr + p);
      if (pk < key) break;
      if (pk == key && <u32>load<i32>(xPtr + p) * <u32>nTI + <u32>load<i32>(tPtr + p) < id) break;
    }
    const q = <usize>at << 2;
    store<f32>(dPtr + q, pd);
    store<u32>(kPtr + q, load<u32>(kPtr + p));
    store<i32>(xPtr + q, load<i32>(xPtr + p));
    store<i32>(tPtr + q, load<i32>(tPtr + p));
    at--;
  }
  const a = <usize>at << 2;
  store<f32>(dPtr + a, d);
  store<u32>(kPtr + a, key);
  store<i32>(xPtr + a, flat);
  store<i32>(tPtr + a, t);
  size++;
  store<i32>(heap, size);
  return size == K ? load<f32>(dPtr + (<usize>(K - 1) << 2)) : Infinity;
}

/** One term's contribution to four candidates: kind 0 continuous, 1 categorical, 2 read from the record. */
@inline
function term(kind: i32, p: usize, v: v128, val: v128, w: v128): v128 {
  if (kind == 0) {
    const d = f32x4.sub(v, val);
    return f32x4.mul(w, f32x4.mul(d, d));
  }
  if (kind == 1) return v128.and(f32x4.ne(v, val), w);
  if (load<i32>(p, 36) != 0) return v128.and(f32x4.ne(v, val), w);
  const d = f32x4.sub(v, val);
  return f32x4.mul(w, f32x4.mul(d, d));
}

/** Offers the lanes of `acc` that are within the threshold (candidates x .. x + lanes - 1 of a row). */
@inline
function offerLanes(
  acc: v128, lanes: i32, thr: f32, bound: f32, rowFlat: i32, x: i32,
  heap: usize, cap: i32, K: i32, t: i32, nTI: i32, draw: u32,
): f32 {
  for (let l = 0; l < lanes; l++) {
    let d: f32;
    if (l == 0) d = f32x4.extract_lane(acc, 0);
    else if (l == 1) d = f32x4.extract_lane(acc, 1);
    else if (l == 2) d = f32x4.extract_lane(acc, 2);
    else d = f32x4.extract_lane(acc, 3);
    if (d > thr) continue;
    thr = min(bound, offer(heap, cap, K, d, rowFlat + x + l, t, nTI, draw));
  }
  return thr;
}

@inline
function scanKind(
  kind: i32,
  ti: usize, pd1: i32, pd2: i32, pad0: i32, pad1: i32, pad2: i32, d1: i32, d2: i32,
  lo0: i32, hi0: i32, lo1: i32, hi1: i32, lo2: i32, hi2: i32,
  terms: usize, nTerms: i32, bound: f32, t: i32, nTI: i32, draw: u32, heap: usize, cap: i32, K: i32,
): void {
  let thr: f32 = bound;
  if (load<i32>(heap) == K) thr = min(bound, load<f32>(heap + 16 + (<usize>(K - 1) << 2)));
  const end = terms + <usize>nTerms * TERM;
  for (let z = lo0; z <= hi0; z++) {
    for (let y = lo1; y <= hi1; y++) {
      const rowPadded = ((z + pad0) * pd1 + (y + pad1)) * pd2 + pad2;
      const rowFlat = (z * d1 + y) * d2;
      for (let x = lo2; x <= hi2; x += 16) {
        const base = ti + (<usize>(rowPadded + x) << 2);
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        const thrv = f32x4.splat(thr);
        let p = terms;
        for (; p < end; p += TERM) {
          const at = base + (<usize>load<i32>(p, 32) << 2);
          const val = v128.load(p);
          const w = v128.load(p, 16);
          a0 = f32x4.add(a0, term(kind, p, v128.load(at), val, w));
          a1 = f32x4.add(a1, term(kind, p, v128.load(at, 16), val, w));
          a2 = f32x4.add(a2, term(kind, p, v128.load(at, 32), val, w));
          a3 = f32x4.add(a3, term(kind, p, v128.load(at, 48), val, w));
          // pmin, not min: the sums are never NaN here, and min's NaN handling costs eight instructions
          const least = f32x4.pmin(f32x4.pmin(a0, a1), f32x4.pmin(a2, a3));
          if (!v128.any_true(f32x4.le(least, thrv))) break;
        }
        if (p < end) continue;
        const lanes = hi2 - x + 1;
        thr = offerLanes(a0, min(4, lanes), thr, bound, rowFlat, x, heap, cap, K, t, nTI, draw);
        if (lanes > 4) thr = offerLanes(a1, min(4, lanes - 4), thr, bound, rowFlat, x + 4, heap, cap, K, t, nTI, draw);
        if (lanes > 8) thr = offerLanes(a2, min(4, lanes - 8), thr, bound, rowFlat, x + 8, heap, cap, K, t, nTI, draw);
        if (lanes > 12) thr = offerLanes(a3, min(4, lanes - 12), thr, bound, rowFlat, x + 12, heap, cap, K, t, nTI, draw);
      }
    }
  }
}

/**
 * Scans the candidate box [lo, hi] of one TI (byte address `ti` of its padded planar data). `kind`: 0 = all
 * terms continuous, 1 = all categorical, 2 = mixed. Candidates are only offered when within `bound`.
 */
export function scan(
  ti: usize, pd1: i32, pd2: i32, pad0: i32, pad1: i32, pad2: i32, d1: i32, d2: i32,
  lo0: i32, hi0: i32, lo1: i32, hi1: i32, lo2: i32, hi2: i32,
  terms: usize, nTerms: i32, kind: i32, bound: f32, t: i32, nTI: i32, draw: u32, heap: usize, cap: i32, K: i32,
): void {
  if (kind == 0) {
    scanKind(0, ti, pd1, pd2, pad0, pad1, pad2, d1, d2, lo0, hi0, lo1, hi1, lo2, hi2, terms, nTerms, bound, t, nTI, draw, heap, cap, K);
  } else if (kind == 1) {
    scanKind(1, ti, pd1, pd2, pad0, pad1, pad2, d1, d2, lo0, hi0, lo1, hi1, lo2, hi2, terms, nTerms, bound, t, nTI, draw, heap, cap, K);
  } else {
    scanKind(2, ti, pd1, pd2, pad0, pad1, pad2, d1, d2, lo0, hi0, lo1, hi1, lo2, hi2, terms, nTerms, bound, t, nTI, draw, heap, cap, K);
  }
}

/** Grows the memory to at least `bytes`; returns the size in bytes. */
export function ensureMemory(bytes: usize): usize {
  const pages = <i32>((bytes + 65535) >> 16);
  const have = memory.size();
  if (pages > have) memory.grow(pages - have);
  return <usize>memory.size() << 16;
}
