/**
 * Training images the demo makes itself (a user's machine has no shared data): sinuous channels (categorical,
 * like Strebelle's) and a smooth anisotropic random field (continuous). Seeded, so the demo is repeatable.
 */
import { mt19937 } from '@dqs/qs';

function uniform(rng: { nextUint32(): number }): number {
  return rng.nextUint32() / 4294967296;
}

/** 0/1 image of meandering horizontal channels. */
export function channelsImage(rows: number, cols: number, seed = 7): Float32Array {
  const rng = mt19937(seed);
  const img = new Float32Array(rows * cols);
  const channels = Math.max(3, Math.round(rows / 14));
  for (let k = 0; k < channels; k++) {
    const y0 = uniform(rng) * rows;
    const amp = 3 + uniform(rng) * rows * 0.06;
    const wave = cols * (0.3 + uniform(rng) * 0.5);
    const phase = uniform(rng) * 2 * Math.PI;
    const width = 1.5 + uniform(rng) * 2.5;
    for (let c = 0; c < cols; c++) {
      const centre = y0 + amp * Math.sin((2 * Math.PI * c) / wave + phase);
      for (let r = Math.floor(centre - width); r <= Math.ceil(centre + width); r++) {
        if (r >= 0 && r < rows && Math.abs(r - centre) <= width) img[r * cols + c] = 1;
      }
    }
  }
  return img;
}

/** A smooth random field in [0, 1], longer-ranged along the columns than along the rows. */
export function smoothField(rows: number, cols: number, seed = 11): Float32Array {
  const rng = mt19937(seed);
  const waves = 60;
  const fx: number[] = [];
  const fy: number[] = [];
  const ph: number[] = [];
  for (let w = 0; w < waves; w++) {
    const angle = uniform(rng) * Math.PI;
    const freq = 0.02 + uniform(rng) * 0.12;
    fx.push(freq * Math.cos(angle) * 0.5);
    fy.push(freq * Math.sin(angle) * 1.5);
    ph.push(uniform(rng) * 2 * Math.PI);
  }
  const img = new Float32Array(rows * cols);
  let lo = Infinity;
  let hi = -Infinity;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let w = 0; w < waves; w++) s += Math.cos(2 * Math.PI * (fx[w] * c + fy[w] * r) + ph[w]);
      img[r * cols + c] = s;
      lo = Math.min(lo, s);
      hi = Math.max(hi, s);
    }
  }
  // quantised to 256 levels, as 8-bit images are
  for (let i = 0; i < img.length; i++) img[i] = Math.round((255 * (img[i] - lo)) / (hi - lo)) / 255;
  return img;
}
