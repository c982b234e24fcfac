/**
 * The weighting kernel and the neighbour search order derived from it (G2S qs.cpp 999-1137):
 * offsets inside the kernel box, minus those whose first-layer weight is NaN, sorted by Euclidean distance.
 */
import { QsInputError } from './errors';
import { QsMap } from './types';

export type Dims3 = [number, number, number];

export interface KernelTable {
  /** Box size per axis (3D, leading axes of size 1 for 2D/1D grids). */
  size: Dims3;
  /** Number of search offsets. */
  count: number;
  /** Offsets h as (h0, h1, h2) triples, nearest first; h = 0 first. */
  offsets: Int32Array;
  /** Weight of each offset for each variable: weights[j * vars + v]. */
  weights: Float64Array;
}

export function toDims3(shape: readonly number[]): Dims3 {
  const s = [1, 1, 1, ...shape].slice(-3);
  return [s[0], s[1], s[2]];
}

/** G2S's default kernel size per axis: min over TIs of (TI size / 2 + 1), or -ks. */
export function defaultKernelSize(tiDims: Dims3[], rank: number, kernelSize?: number[]): Dims3 {
  const size: Dims3 = [1, 1, 1];
  for (let d = 3 - rank; d < 3; d++) {
    if (kernelSize && kernelSize.length > 0) {
      const ks = kernelSize.length === 1 ? kernelSize[0] : kernelSize[d - (3 - rank)];
      size[d] = ks;
    } else {
      size[d] = Math.min(...tiDims.map((t) => Math.floor(t[d] / 2) + 1));
    }
  }
  return size;
}

export function buildKernel(
  rank: number,
  vars: number,
  tiDims: Dims3[],
  kernel: QsMap | undefined,
  kernelSize: number[] | undefined,
): KernelTable {
  let size: Dims3;
  let layers = 1;
  let weightAt: (flat: number, layer: number) => number;
  if (kernel) {
    const shape = [...kernel.shape];
    if (kernel.channels > 1) shape.push(kernel.channels);
    if (shape.length === rank + 1 && (vars > 1 || shape[shape.length - 1] === 1)) {
      layers = shape.pop()!;
      if (layers !== 1 && layers !== vars) {
        throw new QsInputError(
          `-ki: the kernel's last axis has ${layers} layers; with ${vars} variable(s) it needs 1 (shared) or ${vars} (one per variable)`,
        );
      }
    } else if (shape.length !== rank) {
      throw new QsInputError(
        `-ki: the kernel has ${shape.length} axes but the TI has ${rank}; give a ${rank}-axis kernel ` +
          `(one layer for every variable) or ${rank + 1} axes with one layer per variable on the last axis`,
      );
    }
    size = toDims3(shape);
    const data = kernel.data;
    const L = layers;
    weightAt = (flat, layer) => data[flat * L + Math.min(layer, L - 1)];
  } else {
    if (kernelSize) {
      if (kernelSize.length !== 1 && kernelSize.length !== rank) {
        throw new QsInputError(
          `-ks: give one size for every axis or ${rank} sizes (one per axis), not ${kernelSize.length}`,
        );
      }
      for (const s of kernelSize) {
        if (!Number.isInteger(s) || s < 1)
          throw new QsInputError(`-ks: kernel sizes must be integers >= 1 (got ${s})`);
      }
    }
    size = defaultKernelSize(tiDims, rank, kernelSize);
    weightAt = () => 1;
  }
  // Centre at (size-1)/2 as G2S's offset table does; an even axis loses its last slice (use odd sizes).
  const centre = size.map((s) => Math.floor((s - 1) / 2));
  const entries: { h: Dims3; dist: number; flat: number }[] = [];
  for (let a = -centre[0]; a <= centre[0]; a++) {
    for (let b = -centre[1]; b <= centre[1]; b++) {
      for (let c = -centre[2]; c <= centre[2]; c++) {
        const flat = ((a + centre[0]) * size[1] + (b + centre[1])) * size[2] + (c + centre[2]);
        if (Number.isNaN(weightAt(flat, 0))) continue;
        entries.push({ h: [a, b, c], dist: a * a + b * b + c * c, flat });
      }
    }
  }
  if (entries.length === 0)
    throw new QsInputError('-ki: every kernel weight is NaN, so there is nothing to search');
  entries.sort((x, y) => x.dist - y.dist); // stable: equal distances keep box order
  const offsets = new Int32Array(entries.length * 3);
  const weights = new Float64Array(entries.length * vars);
  entries.forEach((e, j) => {
    offsets.set(e.h, 3 * j);
    for (let v = 0; v < vars; v++) {
      const w = weightAt(e.flat, v);
      weights[j * vars + v] = Number.isFinite(w) ? w : 0;
    }
  });
  return { size, count: entries.length, offsets, weights };
}
