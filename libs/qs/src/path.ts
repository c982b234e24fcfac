/** The simulation path and its per-position random draws (G2S qs.cpp: path, then seedForIndex). */
import { mt19937, shuffleInPlace } from './rng';
import { QsGrid } from './types';

export interface SimulationPath {
  /** DI cells (flat, unpadded) in simulation order. */
  cells: Int32Array;
  /** One 32-bit draw per path position: u = draw / 2^32 and every other random choice of that pixel. */
  draws: Uint32Array;
}

export function isFullyInformed(di: QsGrid, cell: number): boolean {
  for (let v = 0; v < di.vars; v++) if (Number.isNaN(di.data[cell * di.vars + v])) return false;
  return true;
}

/**
 * Random path: the cells not fully informed, shuffled by mt19937(seed). User path (-sp): the cells whose path
 * value is finite, ascending (equal values in cell order); fully informed cells with a finite value are in it
 * too, as in G2S, and stay invisible to their neighbours until their turn (give them -inf to avoid that).
 */
export function buildPath(di: QsGrid, seed: number, userPath?: Float32Array): SimulationPath {
  const cellCount = di.data.length / di.vars;
  const rng = mt19937(seed);
  let cells: Int32Array;
  if (userPath) {
    const chosen: number[] = [];
    for (let c = 0; c < cellCount; c++) if (Number.isFinite(userPath[c])) chosen.push(c);
    chosen.sort((a, b) => userPath[a] - userPath[b] || a - b);
    cells = Int32Array.from(chosen);
  } else {
    let count = 0;
    for (let c = 0; c < cellCount; c++) if (!isFullyInformed(di, c)) count++;
    cells = new Int32Array(count);
    let at = 0;
    for (let c = 0; c < cellCount; c++) if (!isFullyInformed(di, c)) cells[at++] = c;
    shuffleInPlace(rng, cells);
  }
  const draws = new Uint32Array(cells.length);
  for (let i = 0; i < draws.length; i++) draws[i] = rng.nextUint32();
  return { cells, draws };
}
