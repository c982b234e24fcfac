/**
 * Job grids (-jg), endpoint grids (-eg) and DI grids (-di_grid_json): nested JSON arrays of one shape, read
 * row-major. In dqs a grid is laid out as the image is: [[101, 102], [103, 104]] puts 102 right of 101 and 103
 * below it (G2S's raw JSON uses the outer index as x, i.e. the transpose; its Python interface transposes back).
 */

export class GridSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'GridSpecError';
  }
}

export interface FlatGrid<T> {
  shape: number[];
  /** Leaves in row-major order. */
  leaves: T[];
}

export function flattenGrid(value: unknown, field: string): FlatGrid<unknown> {
  if (!Array.isArray(value))
    throw new GridSpecError(field, 'the grid must be a JSON array (for example [[101, 102], [103, 104]])');
  const shape: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    if (probe.length === 0)
      throw new GridSpecError(field, `empty list at depth ${shape.length}: the grid is empty`);
    shape.push(probe.length);
    probe = probe[0];
  }
  const leaves: unknown[] = [];
  const walk = (node: unknown, depth: number, path: string) => {
    if (depth === shape.length) {
      if (Array.isArray(node))
        throw new GridSpecError(field, `ragged grid: ${path} is a list where a value was expected`);
      leaves.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new GridSpecError(
        field,
        `ragged grid: ${path || 'the root'} should be a list of ${shape[depth]} items like the first one`,
      );
    }
    node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, '');
  return { shape, leaves };
}

/** A job id as G2S accepts it: a non-negative integer (number or digit string) that fits 32 bits; as a string. */
export function decodeJobId(v: unknown, field = '-jg'): string {
  let n: number;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') throw new GridSpecError(field, 'empty string job id');
    if (!/^\d+$/.test(t)) throw new GridSpecError(field, `job id '${v}' contains non-digit characters`);
    n = Number(t);
  } else if (typeof v === 'number') {
    if (v < 0) throw new GridSpecError(field, `negative job id ${v}`);
    if (!Number.isInteger(v)) throw new GridSpecError(field, `job id ${v} is not an integer`);
    n = v;
  } else {
    throw new GridSpecError(field, `unsupported job id ${JSON.stringify(v)} (give integers)`);
  }
  if (n > 0xffffffff) throw new GridSpecError(field, `job id ${n} does not fit 32 bits`);
  return String(n);
}

/** Endpoint and DI grid values: non-empty strings or non-negative integers. */
export function decodeGridName(v: unknown, field: string): string {
  if (typeof v === 'string') {
    if (v.trim() === '') throw new GridSpecError(field, 'empty string value in grid');
    return v.trim();
  }
  if (typeof v === 'number') {
    if (v < 0) throw new GridSpecError(field, `negative integer value ${v} in grid`);
    if (!Number.isInteger(v)) throw new GridSpecError(field, `non-integer value ${v} in grid`);
    return String(v);
  }
  throw new GridSpecError(field, `unsupported value ${JSON.stringify(v)} in grid (give strings or integers)`);
}

export interface JobGrid {
  shape: number[];
  /** Job ids in row-major order: position r = index in this list. */
  ids: string[];
}

export function parseJobGrid(value: unknown, field = '-jg'): JobGrid {
  const flat = flattenGrid(value, field);
  const ids = flat.leaves.map((v) => decodeJobId(v, field));
  const seen = new Map<string, number>();
  ids.forEach((id, r) => {
    if (seen.has(id))
      throw new GridSpecError(
        field,
        `job id ${id} appears more than once (positions ${seen.get(id)} and ${r}); ids must be unique`,
      );
    seen.set(id, r);
  });
  return { shape: flat.shape, ids };
}

/** An endpoint or DI grid, which must have the job grid's shape. */
export function parseNameGrid(value: unknown, field: string, jobGrid: JobGrid): string[] {
  const flat = flattenGrid(value, field);
  if (flat.shape.length !== jobGrid.shape.length || flat.shape.some((s, i) => s !== jobGrid.shape[i])) {
    throw new GridSpecError(
      field,
      `shape [${flat.shape.join(', ')}] does not match the job grid's [${jobGrid.shape.join(', ')}]`,
    );
  }
  return flat.leaves.map((v) => decodeGridName(v, field));
}

/** Coordinates of row-major position r in a grid of that shape. */
export function coordsOf(r: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = r % shape[d];
    r = Math.floor(r / shape[d]);
  }
  return c;
}

export function positionOf(coords: readonly number[], shape: readonly number[]): number {
  let r = 0;
  for (let d = 0; d < shape.length; d++) r = r * shape[d] + coords[d];
  return r;
}

/** Edge, corner and diagonal neighbours: every offset in {-1,0,1}^d except 0 whose cell is in the grid. */
export function neighbourOffsets(
  coords: readonly number[],
  shape: readonly number[],
): { offset: number[]; position: number }[] {
  const out: { offset: number[]; position: number }[] = [];
  const d = shape.length;
  const total = 3 ** d;
  for (let code = 0; code < total; code++) {
    const offset: number[] = [];
    let c = code;
    for (let a = 0; a < d; a++) {
      offset.unshift((c % 3) - 1);
      c = Math.floor(c / 3);
    }
    if (offset.every((o) => o === 0)) continue;
    const n = coords.map((x, a) => x + offset[a]);
    if (n.some((x, a) => x < 0 || x >= shape[a])) continue;
    out.push({ offset, position: positionOf(n, shape) });
  }
  return out;
}
