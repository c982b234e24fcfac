/** Test access to ../shared (training images and G2S reference outputs). The product never reads these. */
import { join } from 'node:path';
import { readGrid, toFloat32 } from '@dqs/grids';
import { QsGrid } from '@dqs/qs';

export const SHARED = join(__dirname, '..', '..', '..', 'shared');
export const TRAINING_IMAGES = join(SHARED, 'training-images');
export const G2S_REFERENCE = join(SHARED, 'reference', 'g2s');

export function trainingImage(name: string, vars = 1): QsGrid {
  const g = readGrid(join(TRAINING_IMAGES, name));
  const shape = vars > 1 ? g.shape.slice(0, -1) : [...g.shape];
  return { shape, vars, data: toFloat32(g) };
}

/** A [rows, cols] window of a 2D grid (all variables). */
export function crop(g: QsGrid, r0: number, c0: number, rows: number, cols: number): QsGrid {
  const V = g.vars;
  const W = g.shape[1];
  const data = new Float32Array(rows * cols * V);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      for (let v = 0; v < V; v++) data[(r * cols + c) * V + v] = g.data[((r0 + r) * W + c0 + c) * V + v];
    }
  }
  return { shape: [rows, cols], vars: V, data };
}

export function emptyGrid(shape: number[], vars = 1): QsGrid {
  return { shape, vars, data: new Float32Array(shape.reduce((a, b) => a * b, 1) * vars).fill(NaN) };
}
