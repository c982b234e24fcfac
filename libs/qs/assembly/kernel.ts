// The hot loop of QS in AssemblyScript (compiled to WebAssembly with SIMD by `npm run build`).
//
// scan() visits every valid candidate position of one training image, four neighbouring candidates at a
// time (they are contiguous in a variable's plane), sums the mismatch terms in float32, abandons the four
// once all exceed the bound, and offers the survivors to the sorted K-best list. distance() is the same
// sum for one candidate, in the same order of float32 operations, so both give bit-identical values.
//
// Terms: offs[m] = offset in floats from the candidate's cell (plane of the variable included),
// vals[m] = neighbour value, ws[m] = weight, cats[m] = 1 for categorical (mismatch = weight if different).
// List at `heap`: size (i32) at +0, then cap distances (f32), cap keys (u32), cap cells (i32), cap TI ids (i32).

@inline
function mix32(x: u32): u32 {
  x ^= x >> 16;
  x *= 0x7feb352d;
  x ^= x >> 15;
  x *= 0x846ca68b;
  x ^= x >> 16;
  return x;
}

export function distance(base: usize, nTerms: i32, offs: usize, vals: usize, ws: usize, cats: usize): f32 {
  let d: f32 = 0;
  for (let m = 0; m < nTerms; m++) {
    const tv = load<f32>(base + (<usize>load<i32>(offs + (<usize>m << 2)) << 2));
    const val = load<f32>(vals + (<usize>m << 2));
    const w = load<f32>(ws + (<usize>m << 2));
    if (load<i32>(cats + (<usize>m << 2)) != 0) {
      d = d + (tv != val ? w : <f32>0);
    } else {
      const diff = tv - val;
      d = d + w * (diff * diff);
    }
  }
  return d;
}

/** Offers a candidate; returns the list's current threshold (its worst distance when full, else +inf). */
function offer(heap: usize, cap: i32, K: i32, d: f32, flat: i32, t: i32, nTI: i32, draw: u32): f32 {
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
    if (!(pd > d || (pd == d && load<u32>(kPtr + p) > key))) break;
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

export function scan(
  ti: usize, // byte address of the TI's padded planar data
  pd1: i32, pd2: i32, // padded sizes of axes 1 and 2
  pad0: i32, pad1: i32, pad2: i32,
  d1: i32, d2: i32, // TI sizes of axes 1 and 2 (for flat cell indices)
  lo0: i32, hi0: i32, lo1: i32, hi1: i32, lo2: i32, hi2: i32,
  nTerms: i32, offs: usize, vals: usize, ws: usize, cats: usize, allContinuous: i32,
  bound: f32, t: i32, nTI: i32, draw: u32, heap: usize, cap: i32, K: i32,
): void {
  let thr: f32 = bound;
  if (load<i32>(heap) == K) thr = min(bound, load<f32>(heap + 16 + (<usize>(K - 1) << 2)));
  for (let z = lo0; z <= hi0; z++) {
    for (let y = lo1; y <= hi1; y++) {
      const rowPadded = ((z + pad0) * pd1 + (y + pad1)) * pd2 + pad2;
      const rowFlat = (z * d1 + y) * d2;
      for (let x = lo2; x <= hi2; x += 4) {
        const base = ti + (<usize>(rowPadded + x) << 2);
        let acc = f32x4.splat(0);
        let thrv = f32x4.splat(thr);
        let m = 0;
        if (allContinuous) {
          for (; m < nTerms; m++) {
            const mo = <usize>m << 2;
            const v = v128.load(base + (<usize>load<i32>(offs + mo) << 2));
            const diff = f32x4.sub(v, f32x4.splat(load<f32>(vals + mo)));
            acc = f32x4.add(acc, f32x4.mul(f32x4.splat(load<f32>(ws + mo)), f32x4.mul(diff, diff)));
            if (i32x4.all_true(f32x4.gt(acc, thrv))) break;
          }
        } else {
          for (; m < nTerms; m++) {
            const mo = <usize>m << 2;
            const v = v128.load(base + (<usize>load<i32>(offs + mo) << 2));
            const val = f32x4.splat(load<f32>(vals + mo));
            const w = f32x4.splat(load<f32>(ws + mo));
            if (load<i32>(cats + mo) != 0) {
              acc = f32x4.add(acc, v128.and(f32x4.ne(v, val), w));
            } else {
              const diff = f32x4.sub(v, val);
              acc = f32x4.add(acc, f32x4.mul(w, f32x4.mul(diff, diff)));
            }
            if (i32x4.all_true(f32x4.gt(acc, thrv))) break;
          }
        }
        if (m < nTerms) continue;
        const lanes = min(4, hi2 - x + 1);
        for (let l = 0; l < lanes; l++) {
          let d: f32;
          if (l == 0) d = f32x4.extract_lane(acc, 0);
          else if (l == 1) d = f32x4.extract_lane(acc, 1);
          else if (l == 2) d = f32x4.extract_lane(acc, 2);
          else d = f32x4.extract_lane(acc, 3);
          if (d > thr) continue;
          const full = offer(heap, cap, K, d, rowFlat + x + l, t, nTI, draw);
          thr = min(bound, full);
        }
      }
    }
  }
}

/** Grows the memory to at least `bytes`; returns the size in bytes. */
export function ensureMemory(bytes: usize): usize {
  const pages = <i32>((bytes + 65535) >> 16);
  const have = memory.size();
  if (pages > have) memory.grow(pages - have);
  return <usize>memory.size() << 16;
}
