/** Grids as nested JSON arrays (the outer list is the first numpy axis); null stands for NaN. */
import { NdArray } from './ndarray';
import { GridFileError } from './errors';

export function parseJsonGrid(text: string, file = '<json>'): NdArray<Float32Array> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new GridFileError(file, `invalid JSON (${(e as Error).message})`);
  }
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    if (probe.length === 0) throw new GridFileError(file, `empty list at depth ${shape.length}`);
    shape.push(probe.length);
    probe = probe[0];
  }
  if (shape.length === 0) throw new GridFileError(file, 'a grid must be a (nested) JSON array of numbers');
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let at = 0;
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (node === null) data[at++] = NaN;
      else if (typeof node === 'number') data[at++] = node;
      else
        throw new GridFileError(
          file,
          `value at ${path} is ${JSON.stringify(node)}; expected a number or null`,
        );
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new GridFileError(
        file,
        `ragged grid: ${path || 'the root'} should be a list of ${shape[depth]} items like the first one`,
      );
    }
    node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, '');
  return { shape, dtype: 'float32', data };
}

export function serializeJsonGrid(array: NdArray): string {
  const { shape, data } = array;
  const build = (depth: number, offset: number): unknown => {
    const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    const out: unknown[] = [];
    for (let i = 0; i < shape[depth]; i++) {
      if (depth === shape.length - 1) {
        const v = data[offset + i];
        out.push(Number.isFinite(v) ? v : null);
      } else out.push(build(depth + 1, offset + i * stride));
    }
    return out;
  };
  return JSON.stringify(shape.length === 0 ? [] : build(0, 0));
}
