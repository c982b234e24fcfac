/**
 * The random numbers of QS, as G2S draws them: one mt19937 seeded with -s, used first to shuffle the path,
 * then for one uniform draw per path position. Every other random choice of a pixel derives from its draw,
 * which is why the result does not depend on the thread count.
 */
import { mersenne } from 'pure-rand/generator/mersenne';

export interface Mt19937 {
  /** Next 32-bit output, unsigned. */
  nextUint32(): number;
}

export function mt19937(seed: number): Mt19937 {
  const g = mersenne(seed >>> 0);
  return { nextUint32: () => g.next() >>> 0 };
}

/** Unbiased integer in [0, bound), bound <= 2^32, by rejection. */
export function boundedInt(rng: Mt19937, bound: number): number {
  const limit = 4294967296 - (4294967296 % bound);
  for (;;) {
    const x = rng.nextUint32();
    if (x < limit) return x % bound;
  }
}

/** Fisher-Yates shuffle in place. */
export function shuffleInPlace(rng: Mt19937, items: Int32Array): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = boundedInt(rng, i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

/** A path position's uniform number in [0, 1) from its 32-bit draw. */
export function unitFromDraw(draw: number): number {
  return draw / 4294967296;
}

/** A well-mixed 32-bit hash (lowbias32), used to derive a pixel's tie-breaking keys from its draw. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
