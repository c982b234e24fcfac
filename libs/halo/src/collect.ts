/**
 * Rebuilding a chunk's cropped output from its stream (what the results service does when a chunk completes),
 * and assembling the mosaic of a run.
 */
import type { Redis } from 'ioredis';
import { ChunkJobData } from '@dqs/protocol';
import { NOT_SIMULATED, QsGrid, buildPath } from '@dqs/qs';
import { ArrayLoader, chunkSeed, loadGrid } from './chunk-plan';
import { readWholeStream, streamOf } from './exchange';
import { mosaicShape, placeTile } from './geometry';

export interface ChunkOutput {
  sim: QsGrid;
  index: Uint32Array;
}

/**
 * A chunk's tile from its DI and its stream. By default every simulated cell must be there (a finished chunk);
 * with partial, the cells simulated so far (a live preview), NaN elsewhere.
 */
export async function collectChunk(
  job: ChunkJobData,
  redis: Redis,
  load: ArrayLoader,
  options: { partial?: boolean } = {},
): Promise<ChunkOutput> {
  const V = job.vars;
  const di = loadGrid(load, job.diSha, V, `DI of job ${job.jobId}`);
  const path = buildPath(di, chunkSeed(job.params, job.position));
  const values = Float32Array.from(di.data);
  const index = new Uint32Array(di.data.length / V).fill(NOT_SIMULATED);
  const seen = new Uint8Array(path.cells.length);
  let distinct = 0;
  await readWholeStream(redis, streamOf(job.runId, job.diId).key, (rec) => {
    for (let a = 0; a < rec.g.length; a++) {
      const i = (rec.g[a] - job.position) / job.jobCount;
      if (!Number.isInteger(i) || i < 0 || i >= path.cells.length) continue;
      const cell = path.cells[i];
      for (let v = 0; v < V; v++) values[cell * V + v] = rec.values[a * V + v];
      index[cell] = rec.index[a];
      if (!seen[i]) {
        seen[i] = 1;
        distinct++;
      }
    }
  });
  if (!options.partial && distinct !== path.cells.length) {
    throw new Error(
      `chunk ${job.jobId}: its stream holds ${distinct} of ${path.cells.length} simulated cells`,
    );
  }
  return { sim: { shape: [...di.shape], vars: V, data: values }, index };
}

export function assembleMosaic(
  tileShape: number[],
  gridShape: number[],
  vars: number,
  tiles: { coords: number[]; output: ChunkOutput }[],
): ChunkOutput {
  const shape = mosaicShape(tileShape, gridShape);
  const cells = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(cells * vars).fill(NaN);
  const index = new Uint32Array(cells).fill(NOT_SIMULATED);
  for (const t of tiles) {
    placeTile(data, shape, t.output.sim.data, tileShape, t.coords, vars);
    placeTile(index, shape, t.output.index, tileShape, t.coords, 1);
  }
  return { sim: { shape, vars, data }, index };
}
