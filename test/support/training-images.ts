/**
 * Test inputs. Most tests make their own (stand-ins below, seeded, so a bare clone runs them); the tests that
 * compare with G2S's reference outputs, or read the real training-image files, use the shared test data found
 * through one setting, DQS_TEST_DATA (default ../shared beside the checkout), and are skipped with one line
 * saying what is missing where it is absent. The product never reads any of this.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readGrid, toFloat32 } from '@dqs/grids';
import { QsGrid } from '@dqs/qs';
import { channelsImage, smoothField } from '../../apps/cli/src/demo-images';

export const TEST_DATA = resolve(process.env.DQS_TEST_DATA || join(__dirname, '..', '..', '..', 'shared'));
export const TRAINING_IMAGES = join(TEST_DATA, 'training-images');
export const G2S_REFERENCE = join(TEST_DATA, 'reference', 'g2s');

const HOW_TO_GET =
  "set DQS_TEST_DATA to a folder holding dqs's shared test data (training-images/, reference/g2s/; CI has it at ../shared)";

/** Whether the shared training images are there. */
export const hasTrainingImages = existsSync(join(TRAINING_IMAGES, 'stone.tiff'));
/** Whether G2S's reference outputs are there. */
export const hasG2sReference = existsSync(join(G2S_REFERENCE, 'timings.json'));

const announced = new Set<string>();
function skipLine(what: string, missing: string): void {
  if (announced.has(what)) return;
  announced.add(what);
  process.stdout.write(`skipped: ${what}: ${missing} is missing; ${HOW_TO_GET}\n`);
}

/** describe() for tests that compare with G2S's reference outputs: skipped, with one line, where they are absent. */
export function describeWithG2s(name: string, fn: () => void): void {
  if (hasG2sReference) return describe(name, fn);
  skipped(name, G2S_REFERENCE);
}

/** describe() for tests of the real training-image files themselves: skipped, with one line, where they are absent. */
export function describeWithTrainingImages(name: string, fn: () => void): void {
  if (hasTrainingImages) return describe(name, fn);
  skipped(name, TRAINING_IMAGES);
}

/** One skipped test standing for the group (its body is not even collected: it would read the missing files). */
function skipped(name: string, missing: string): void {
  skipLine(name, missing);
  describe(name, () => it.skip(`needs ${missing}`, () => undefined));
}

/** A real training image of the shared data (only inside describeWithG2s / describeWithTrainingImages). */
export function trainingImage(name: string, vars = 1): QsGrid {
  const g = readGrid(join(TRAINING_IMAGES, name));
  const shape = vars > 1 ? g.shape.slice(0, -1) : [...g.shape];
  return { shape, vars, data: toFloat32(g) };
}

/** A continuous TI like stone.tiff (a smooth anisotropic field, 256 levels in [0, 1]), made here. */
export function stoneLike(rows = 200, cols = 200, seed = 11): QsGrid {
  return { shape: [rows, cols], vars: 1, data: smoothField(rows, cols, seed) };
}

/** A categorical 0/1 TI like strebelle.tiff (meandering channels), made here. */
export function channelsLike(rows = 250, cols = 250, seed = 7): QsGrid {
  return { shape: [rows, cols], vars: 1, data: channelsImage(rows, cols, seed) };
}

/** A TI of three continuous variables (last axis), related but not copies of each other, made here. */
export function threeVariables(rows = 80, cols = 80): QsGrid {
  const a = smoothField(rows, cols, 21);
  const b = smoothField(rows, cols, 22);
  const data = new Float32Array(rows * cols * 3);
  for (let i = 0; i < rows * cols; i++) {
    data[3 * i] = a[i];
    data[3 * i + 1] = Math.fround(0.5 * a[i] + 0.5 * b[i]);
    data[3 * i + 2] = Math.fround(b[i] * b[i]);
  }
  return { shape: [rows, cols], vars: 3, data };
}

/** A 3D 0/1 checkerboard of cubes (like Damier3D.tiff): size^3 cells, cubes of `cube` cells a side. */
export function damier3D(size = 50, cube = 5): QsGrid {
  const data = new Float32Array(size * size * size);
  for (let z = 0; z < size; z++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        data[(z * size + y) * size + x] =
          (Math.floor(z / cube) + Math.floor(y / cube) + Math.floor(x / cube)) % 2;
  return { shape: [size, size, size], vars: 1, data };
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
