/** Turns grid files (or ROWSxCOLS sizes) into the engine's grids, with G2S's rule for the variable axis. */
import { ReadGrid, readGrid, toFloat32 } from '@dqs/grids';
import { QsGrid, QsMap, VariableKind } from '@dqs/qs';
import { UsageError } from './g2s-args';

/** -dt: 0 = continuous, anything else = categorical (G2S). */
export function parseKinds(values: number[] | undefined): VariableKind[] {
  if (!values || values.length === 0) {
    throw new UsageError(
      '-dt is required: one type per variable, 0 = continuous, 1 = categorical (e.g. -dt 0)',
    );
  }
  return values.map((v) => (v === 0 ? 'continuous' : 'categorical'));
}

/**
 * The last axis holds variables when -dt lists more than one type (G2S's rule for numpy arrays); a TIFF with
 * several samples per pixel and a single -dt type is read as a grid with one more spatial axis.
 */
export function toQsGrid(grid: ReadGrid, vars: number, file: string): QsGrid {
  const shape = [...grid.shape];
  if (vars > 1) {
    const last = shape[shape.length - 1];
    if (shape.length < 2 || last !== vars) {
      throw new UsageError(
        `${file}: -dt lists ${vars} variables, so the last axis of the grid must have ${vars} entries, but its shape is ${shape.join('x')}` +
          (grid.samplesPerPixel === 1 ? ' (a TIFF with one sample per pixel holds one variable)' : ''),
      );
    }
    shape.pop();
  }
  if (shape.length < 1 || shape.length > 3) {
    throw new UsageError(
      `${file}: ${shape.length} spatial axes (shape ${grid.shape.join('x')}); QS works on 1D, 2D and 3D grids`,
    );
  }
  return { shape, vars, data: toFloat32(grid) };
}

export function loadQsGrid(file: string, vars: number): QsGrid {
  return toQsGrid(readGrid(file), vars, file);
}

/** -di as a file, or as ROWSxCOLS[xDEPTH...] for an empty (all NaN) grid. */
export function loadDi(spec: string, vars: number): QsGrid {
  if (/^\d+(x\d+){0,2}$/i.test(spec)) {
    const shape = spec.toLowerCase().split('x').map(Number);
    if (shape.some((s) => s < 1)) throw new UsageError(`-di ${spec}: every size must be at least 1`);
    const cells = shape.reduce((a, b) => a * b, 1);
    if (cells > 2 ** 28)
      throw new UsageError(
        `-di ${spec}: ${cells} cells is more than dqs simulates in one process; split it with dqs dm`,
      );
    return { shape, vars, data: new Float32Array(cells * vars).fill(NaN) };
  }
  return loadQsGrid(spec, vars);
}

/** A per-cell map that must have the DI's spatial shape, optionally with a channel axis. */
export function loadMap(file: string, diShape: number[], flag: string, channels: number[] = [1]): QsMap {
  const grid = readGrid(file);
  const shape = [...grid.shape];
  const same = (a: number[]) => a.length === diShape.length && a.every((s, i) => s === diShape[i]);
  if (same(shape)) return { shape, channels: 1, data: toFloat32(grid) };
  const last = shape.pop()!;
  if (same(shape) && channels.includes(last)) return { shape, channels: last, data: toFloat32(grid) };
  throw new UsageError(
    `${flag} ${file}: shape ${grid.shape.join('x')} does not match the DI's ${diShape.join('x')}`,
  );
}

/** -ki: any shape; its rank is checked by the engine against the TI. */
export function loadKernel(file: string): QsMap {
  const grid = readGrid(file);
  return { shape: [...grid.shape], channels: 1, data: toFloat32(grid) };
}
