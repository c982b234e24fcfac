/**
 * Where the results service writes a run's outputs: the archive, archive/<namespace>/<batch>/<runId>/ under the
 * data directory, with a manifest.json that describes the run (so that the archive can be searched and fetched
 * long after Redis has forgotten the run).
 */
import { join } from 'node:path';
import { DEFAULT_BATCH, DEFAULT_NAMESPACE } from '@dqs/protocol';

/** What locates a run in the archive (a RunRecord or a ChunkJobData has these fields). */
export interface RunPlace {
  runId: string;
  namespace?: string;
  batch?: string;
}

export const ARCHIVE_DIR = 'archive';
export const MANIFEST_FILE = 'manifest.json';

export function runOutputDir(dataDir: string, place: RunPlace): string {
  return join(
    dataDir,
    ARCHIVE_DIR,
    place.namespace ?? DEFAULT_NAMESPACE,
    place.batch ?? DEFAULT_BATCH,
    place.runId,
  );
}

export const chunkFileName = (jobId: string, part: 'sim' | 'index') =>
  part === 'sim' ? `chunk_${jobId}.npy` : `chunk_${jobId}.index.npy`;
export const mosaicFileName = (part: 'sim' | 'index') => (part === 'sim' ? 'mosaic.npy' : 'mosaic.index.npy');

export function chunkOutputFiles(
  dataDir: string,
  place: RunPlace,
  jobId: string,
): { sim: string; index: string } {
  const dir = runOutputDir(dataDir, place);
  return { sim: join(dir, chunkFileName(jobId, 'sim')), index: join(dir, chunkFileName(jobId, 'index')) };
}

export function mosaicFiles(dataDir: string, place: RunPlace): { sim: string; index: string } {
  const dir = runOutputDir(dataDir, place);
  return { sim: join(dir, mosaicFileName('sim')), index: join(dir, mosaicFileName('index')) };
}
