/**
 * The archive of finished (and partly finished) runs: outputs under archive/<namespace>/<batch>/<runId>/ with a
 * manifest each, searched with a filter (namespace, batch, run, job ranges, dates) by `dqs fetch` and the API.
 * It reads only the disk, so it works without Redis and after the run records have been cleaned up.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRecord, RunState } from '@dqs/protocol';
import { atomicWrite } from './array-store';
import { ARCHIVE_DIR, MANIFEST_FILE, chunkFileName, mosaicFileName, runOutputDir } from './outputs';

export interface ArchiveManifest {
  runId: string;
  namespace: string;
  batch: string;
  state: RunState;
  createdAt: string;
  finishedAt?: string;
  error?: string;
  gridShape: number[];
  tileShape: number[];
  vars: number;
  jobIds: string[];
  params: RunRecord['params'];
  updatedAt: string;
}

/** What a manifest is made of: a run record, or a manifest read back. */
export type ManifestSource = Omit<ArchiveManifest, 'updatedAt'> & Partial<RunRecord>;

/** Writes (or refreshes) a run's manifest in its archive folder. */
export function writeManifest(dataDir: string, record: ManifestSource): void {
  const dir = runOutputDir(dataDir, record);
  mkdirSync(dir, { recursive: true });
  const manifest: ArchiveManifest = {
    runId: record.runId,
    namespace: record.namespace,
    batch: record.batch,
    state: record.state,
    createdAt: record.createdAt,
    finishedAt: record.finishedAt,
    error: record.error,
    gridShape: record.gridShape,
    tileShape: record.tileShape,
    vars: record.vars,
    jobIds: record.jobIds,
    params: record.params,
    updatedAt: new Date().toISOString(),
  };
  atomicWrite(join(dir, MANIFEST_FILE), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
}

export interface ArchiveFilter {
  /** Exact names, or patterns with '*' (any characters). */
  namespace?: string;
  batch?: string;
  runId?: string;
  /** Job ids to keep (default: every job); the mosaic is kept only without a job filter. */
  jobs?: ReadonlySet<string>;
  /** Runs that ended (or, unfinished, were created) in [since, until]. */
  since?: Date;
  until?: Date;
  /** Also the index images (*.index.npy). */
  index?: boolean;
}

export interface ArchivedFile {
  /** Path relative to the archive folder: <namespace>/<batch>/<runId>/<file>. */
  path: string;
  jobId?: string;
  kind: 'chunk' | 'mosaic' | 'manifest';
  bytes: number;
}

export interface ArchivedRun {
  manifest: ArchiveManifest;
  files: ArchivedFile[];
}

function matcher(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined || pattern === '' || pattern === '*') return () => true;
  if (!pattern.includes('*')) return (name) => name === pattern;
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'))
      .join('.*')}$`,
  );
  return (name) => re.test(name);
}

const subdirs = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];

export function archiveRoot(dataDir: string): string {
  return join(dataDir, ARCHIVE_DIR);
}

/** Archived runs matching a filter, oldest first, with the files that exist (written outputs only). */
export function listArchive(dataDir: string, filter: ArchiveFilter = {}): ArchivedRun[] {
  const root = archiveRoot(dataDir);
  const nsOk = matcher(filter.namespace);
  const batchOk = matcher(filter.batch);
  const out: ArchivedRun[] = [];
  for (const ns of subdirs(root).filter(nsOk)) {
    for (const batch of subdirs(join(root, ns)).filter(batchOk)) {
      for (const runId of subdirs(join(root, ns, batch))) {
        if (filter.runId && runId !== filter.runId) continue;
        const dir = join(root, ns, batch, runId);
        let manifest: ArchiveManifest;
        try {
          manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ArchiveManifest;
        } catch {
          continue; // not a run folder (or one being created)
        }
        const when = Date.parse(manifest.finishedAt ?? manifest.createdAt);
        if (filter.since && when < filter.since.getTime()) continue;
        if (filter.until && when > filter.until.getTime()) continue;
        const rel = (file: string) => `${ns}/${batch}/${runId}/${file}`;
        const files: ArchivedFile[] = [
          { path: rel(MANIFEST_FILE), kind: 'manifest', bytes: statSync(join(dir, MANIFEST_FILE)).size },
        ];
        const add = (file: string, kind: ArchivedFile['kind'], jobId?: string) => {
          const full = join(dir, file);
          if (existsSync(full)) files.push({ path: rel(file), kind, jobId, bytes: statSync(full).size });
        };
        for (const jobId of manifest.jobIds) {
          if (filter.jobs && !filter.jobs.has(jobId)) continue;
          add(chunkFileName(jobId, 'sim'), 'chunk', jobId);
          if (filter.index) add(chunkFileName(jobId, 'index'), 'chunk', jobId);
        }
        if (!filter.jobs) {
          add(mosaicFileName('sim'), 'mosaic');
          if (filter.index) add(mosaicFileName('index'), 'mosaic');
        }
        if (filter.jobs && !files.some((f) => f.kind === 'chunk')) continue;
        out.push({ manifest, files });
      }
    }
  }
  return out.sort((a, b) => a.manifest.createdAt.localeCompare(b.manifest.createdAt));
}
