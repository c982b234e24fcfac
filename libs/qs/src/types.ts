/** Public types of the QS engine. Grids are row-major (numpy C order) with variables interleaved fastest. */

export type VariableKind = 'continuous' | 'categorical';

/** A grid of cells, each holding `vars` float32 values: data[cell * vars + v]; NaN = unknown. */
export interface QsGrid {
  /** Spatial shape, numpy order: [cols], [rows, cols] or [depth, rows, cols]. */
  shape: number[];
  vars: number;
  data: Float32Array;
}

/** A per-cell map over the DI's spatial shape with `channels` values per cell. */
export interface QsMap {
  shape: number[];
  channels: number;
  data: Float32Array;
}

export interface QsParams {
  /** Training images (-ti): same rank and variable count as the DI. */
  tis: QsGrid[];
  /** Destination image (-di): NaN = simulate, finite = hard data kept exactly. */
  di: QsGrid;
  /** One kind per variable (-dt): 0 = continuous, anything else = categorical in G2S. */
  kinds: VariableKind[];
  /** -k: number of best candidates, a real number >= 1 (k = 1.2 takes the second best one time in six). */
  k: number;
  /** -n: closest informed neighbours per variable (the simulated cell counts as one); cycled over variables. */
  n: number[];
  /** -s: seed of the mt19937 that draws the path and one uniform number per path position. */
  seed: number;
  /**
   * -ki: weighting kernel. Its spatial shape has the TI's rank (one layer, used for every variable) or one
   * more axis holding one layer per variable. NaN in the first layer removes that offset from the search.
   */
  kernel?: QsMap;
  /** -ks: size of G2S's default uniform kernel, one value for every axis or one per axis. */
  kernelSize?: number[];
  /** -sp: simulation path, DI-shaped; cells are simulated in ascending order, -inf (and NaN) never. */
  path?: Float32Array;
  /** -ii: index of the only TI searched at each cell (DI-shaped). */
  tiIndexMap?: Float32Array;
  /** -ni: n per cell; one channel, or one per variable. Values <= 0 or NaN fall back to -n. */
  nMap?: QsMap;
  /** -kvi: k per cell; values <= 0 or NaN fall back to -k. */
  kMap?: Float32Array;
  /** -cti: the TIs are periodic: candidates wrap around instead of being excluded near the borders. */
  periodicTi?: boolean;
  /** --forceSimulation: cells in the path are simulated even where they already hold values. */
  forceSimulation?: boolean;
}

export interface QsResult {
  /** The simulation, DI-shaped, all variables. */
  sim: QsGrid;
  /**
   * Where each value came from: tiCell * nTI + tiId, tiCell being the flat C-order cell index in that TI.
   * Cells that were not simulated (hard data, -inf path) hold NOT_SIMULATED (G2S writes 0 there).
   */
  index: Uint32Array;
  /** Seconds spent simulating (the path loop, as G2S's reported time). */
  seconds: number;
  /** Kernel threads used. */
  threads: number;
  /** Number of cells simulated. */
  simulated: number;
  /** With recordRanks: the candidate rank taken at each path position (-1 = marginal draw). */
  ranks?: Int32Array;
}

/** Index value of cells that did not come from a TI (hard data, never simulated). */
export const NOT_SIMULATED = 0xffffffff;
