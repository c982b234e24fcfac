/** Writes a simulation as G2S users expect it: NPY values, NPY index, and a PNG preview. */
import { renderPreview, writeFileAtomic, writeGrid } from '@dqs/grids';
import { QsGrid, VariableKind } from '@dqs/qs';

export interface WrittenOutputs {
  sim: string;
  index: string;
  preview: string;
}

/** The [rows, cols] slice of the first variable shown in previews (the middle slice of a 3D grid). */
export function previewSlice(grid: QsGrid): { rows: number; cols: number; values: Float32Array } {
  const shape = grid.shape;
  const cols = shape[shape.length - 1];
  const rows = shape.length >= 2 ? shape[shape.length - 2] : 1;
  const depth = shape.length === 3 ? shape[0] : 1;
  const z = Math.floor(depth / 2);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) values[i] = grid.data[(z * rows * cols + i) * grid.vars];
  return { rows, cols, values };
}

export function previewPng(grid: QsGrid, kind: VariableKind, range?: [number, number]): Uint8Array {
  const { rows, cols, values } = previewSlice(grid);
  const scale = Math.max(1, Math.floor(400 / Math.max(rows, cols)));
  return renderPreview(values, rows, cols, { categorical: kind === 'categorical', scale, range });
}

export function writeSimulation(
  prefix: string,
  sim: QsGrid,
  index: Uint32Array,
  kinds: VariableKind[],
): WrittenOutputs {
  const files = { sim: `${prefix}.npy`, index: `${prefix}.index.npy`, preview: `${prefix}.png` };
  const shape = sim.vars > 1 ? [...sim.shape, sim.vars] : [...sim.shape];
  writeGrid(files.sim, { shape, dtype: 'float32', data: sim.data });
  writeGrid(files.index, { shape: [...sim.shape], dtype: 'uint32', data: index });
  writeFileAtomic(files.preview, previewPng(sim, kinds[0]));
  return files;
}
