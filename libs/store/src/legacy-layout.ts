/**
 * Data directories written before namespaces: prepared names in names/*.json and outputs in runs/<run>/. They move
 * to the default namespace (names/default/) and the archive (archive/default/default/<run>/) once, when a service
 * starts, so that an upgrade loses no prepared job and no output.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BATCH, DEFAULT_NAMESPACE } from '@dqs/protocol';
import { ARCHIVE_DIR } from './outputs';

/** A rename that another service starting at the same time may have done first. */
function move(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export function migrateLegacyLayout(dataDir: string): { names: number; runs: number } {
  const moved = { names: 0, runs: 0 };
  const names = join(dataDir, 'names');
  if (existsSync(names)) {
    const legacy = readdirSync(names, { withFileTypes: true }).filter(
      (d) => d.isFile() && d.name.endsWith('.json'),
    );
    if (legacy.length) mkdirSync(join(names, DEFAULT_NAMESPACE), { recursive: true });
    for (const f of legacy) {
      const target = join(names, DEFAULT_NAMESPACE, f.name);
      if (!existsSync(target) && move(join(names, f.name), target)) moved.names++;
    }
  }
  const runs = join(dataDir, 'runs');
  if (existsSync(runs)) {
    const archive = join(dataDir, ARCHIVE_DIR, DEFAULT_NAMESPACE, DEFAULT_BATCH);
    for (const d of readdirSync(runs, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      mkdirSync(archive, { recursive: true });
      if (!existsSync(join(archive, d.name)) && move(join(runs, d.name), join(archive, d.name))) moved.runs++;
    }
    try {
      if (readdirSync(runs).length === 0) rmdirSync(runs);
    } catch {
      /* another service did it */
    }
  }
  return moved;
}
