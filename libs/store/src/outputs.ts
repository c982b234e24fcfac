/** Where the results service writes a run's outputs under the data directory. */
import { join } from 'node:path';

export function runOutputDir(dataDir: string, runId: string): string {
  return join(dataDir, 'runs', runId);
}

export function chunkOutputFiles(
  dataDir: string,
  runId: string,
  jobId: string,
): { sim: string; index: string } {
  const dir = runOutputDir(dataDir, runId);
  return { sim: join(dir, `chunk_${jobId}.npy`), index: join(dir, `chunk_${jobId}.index.npy`) };
}

export function mosaicFiles(dataDir: string, runId: string): { sim: string; index: string } {
  const dir = runOutputDir(dataDir, runId);
  return { sim: join(dir, 'mosaic.npy'), index: join(dir, 'mosaic.index.npy') };
}
