import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrayStore, listArchive, migrateLegacyLayout, writeManifest } from './index';
import type { RunRecord } from '@dqs/protocol';

describe('the data directory', () => {
  it('moves the layout from before namespaces (names/*.json, runs/<run>/) into the default namespace and the archive', () => {
    const data = mkdtempSync(join(tmpdir(), 'dqs-store-'));
    mkdirSync(join(data, 'names'));
    writeFileSync(
      join(data, 'names', 'input_di_1.json'),
      JSON.stringify({ name: 'input_di_1', sha256: 'a' }),
    );
    mkdirSync(join(data, 'runs', 'rold'), { recursive: true });
    writeFileSync(join(data, 'runs', 'rold', 'mosaic.npy'), 'x');
    expect(migrateLegacyLayout(data)).toEqual({ names: 1, runs: 1 });
    expect(new ArrayStore(data).getName('default', 'input_di_1')?.sha256).toBe('a');
    expect(readFileSync(join(data, 'archive', 'default', 'default', 'rold', 'mosaic.npy'), 'utf8')).toBe('x');
    expect(existsSync(join(data, 'runs'))).toBe(false);
    expect(migrateLegacyLayout(data)).toEqual({ names: 0, runs: 0 });
  });

  it('lists the archive with a filter: namespace patterns, jobs, dates', () => {
    const data = mkdtempSync(join(tmpdir(), 'dqs-store-'));
    const record = (runId: string, namespace: string, batch: string, finishedAt: string): RunRecord => ({
      runId,
      namespace,
      batch,
      state: 'completed',
      createdAt: finishedAt,
      finishedAt,
      gridShape: [1, 2],
      jobIds: ['1', '2'],
      diIds: ['input_di_1', 'input_di_2'],
      tileShape: [2, 2],
      vars: 1,
      params: { dt: [0], k: 1.2, n: [5], seed: 1 },
    });
    for (const r of [
      record('r1', 'alice', 'b1', '2026-11-01T10:00:00Z'),
      record('r2', 'alice', 'b2', '2026-11-20T10:00:00Z'),
      record('r3', 'bob', 'b1', '2026-11-20T11:00:00Z'),
    ]) {
      writeManifest(data, r);
      for (const f of ['chunk_1.npy', 'chunk_2.npy', 'mosaic.npy'])
        writeFileSync(join(data, 'archive', r.namespace, r.batch, r.runId, f), 'x');
    }
    const ids = (f: Parameters<typeof listArchive>[1]) => listArchive(data, f).map((r) => r.manifest.runId);
    expect(ids({})).toEqual(['r1', 'r2', 'r3']);
    expect(ids({ namespace: 'al*' })).toEqual(['r1', 'r2']);
    expect(ids({ batch: 'b1' })).toEqual(['r1', 'r3']);
    expect(ids({ since: new Date('2026-11-10T00:00:00Z') })).toEqual(['r2', 'r3']);
    expect(ids({ until: new Date('2026-11-10T00:00:00Z') })).toEqual(['r1']);
    const jobs = listArchive(data, { runId: 'r3', jobs: new Set(['2']) })[0].files.map((f) => f.path);
    expect(jobs).toEqual(['bob/b1/r3/manifest.json', 'bob/b1/r3/chunk_2.npy']);
    expect(ids({ jobs: new Set(['7']) })).toEqual([]);
  });
});
