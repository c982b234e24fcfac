/**
 * Tile geometry of a distributed run: the job grid's axes partition the last axes of the DI; each chunk's
 * working domain is its tile padded by the halo; neighbour boxes are copied into the halo as G2S does
 * (spec distributed-qs §4.4): for offset -1 the halo [0, h) mirrors the neighbour's [n - h, n), for +1 the
 * halo [h + n, 2h + n) mirrors [0, h), for 0 the tile's own extent.
 */

export interface Box {
  /** Per spatial axis (numpy order): start in the local padded domain, start in the neighbour tile, length. */
  localStart: number[];
  neighbourStart: number[];
  length: number[];
}

/** The neighbour box for a job-grid offset, expanded to every spatial axis (leading axes not partitioned). */
export function neighbourBox(
  offset: readonly number[],
  tile: readonly number[],
  halo: readonly number[],
): Box {
  const rank = tile.length;
  const lead = rank - offset.length;
  const localStart: number[] = [];
  const neighbourStart: number[] = [];
  const length: number[] = [];
  for (let a = 0; a < rank; a++) {
    const d = a < lead ? 0 : offset[a - lead];
    const n = tile[a];
    const h = halo[a];
    if (d === -1) {
      localStart.push(0);
      neighbourStart.push(n - h);
      length.push(h);
    } else if (d === 1) {
      localStart.push(h + n);
      neighbourStart.push(0);
      length.push(h);
    } else {
      localStart.push(h);
      neighbourStart.push(0);
      length.push(n);
    }
  }
  return { localStart, neighbourStart, length };
}

/** Calls fn(localCell, neighbourCell) for every cell of the box (flat indices in domain and tile). */
export function forEachBoxCell(
  box: Box,
  domain: readonly number[],
  tile: readonly number[],
  fn: (local: number, neighbour: number) => void,
): void {
  const rank = tile.length;
  const idx = new Array<number>(rank).fill(0);
  const total = box.length.reduce((a, b) => a * b, 1);
  for (let k = 0; k < total; k++) {
    let local = 0;
    let nb = 0;
    for (let a = 0; a < rank; a++) {
      local = local * domain[a] + box.localStart[a] + idx[a];
      nb = nb * tile[a] + box.neighbourStart[a] + idx[a];
    }
    fn(local, nb);
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < box.length[a]) break;
      idx[a] = 0;
    }
  }
}

/** Shape of the mosaic: each partitioned axis is tile size x grid size. */
export function mosaicShape(tile: readonly number[], grid: readonly number[]): number[] {
  const lead = tile.length - grid.length;
  return tile.map((t, a) => (a < lead ? t : t * grid[a - lead]));
}

/** Copies a tile (V values per cell) into the mosaic at its grid coordinates. */
export function placeTile<T extends Float32Array | Uint32Array>(
  mosaic: T,
  mosaicDims: readonly number[],
  tile: T,
  tileDims: readonly number[],
  coords: readonly number[],
  vars: number,
): void {
  const lead = tileDims.length - coords.length;
  const start = tileDims.map((t, a) => (a < lead ? 0 : t * coords[a - lead]));
  const rank = tileDims.length;
  const idx = new Array<number>(rank).fill(0);
  const total = tileDims.reduce((a, b) => a * b, 1);
  for (let k = 0; k < total; k++) {
    let m = 0;
    for (let a = 0; a < rank; a++) m = m * mosaicDims[a] + start[a] + idx[a];
    for (let v = 0; v < vars; v++) mosaic[m * vars + v] = tile[k * vars + v];
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a] < tileDims[a]) break;
      idx[a] = 0;
    }
  }
}
