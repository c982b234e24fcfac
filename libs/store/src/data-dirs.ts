/**
 * Where dqs keeps its data and logs: the rules of G2S's distributed launchers, used by every component.
 * 1. G2S_DATA_DIR: if it ends in /data, data = it and logs = its sibling logs; otherwise data = <root>/data and
 *    logs = <root>/logs. 2. /scratch/<user>/G2S when that folder exists. 3. /tmp/G2S.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, normalize, resolve } from 'node:path';
import { userInfo } from 'node:os';

export interface DataDirs {
  root: string;
  data: string;
  logs: string;
}

export function resolveDataDirs(env: NodeJS.ProcessEnv = process.env): DataDirs {
  const configured = env.G2S_DATA_DIR?.trim();
  let root: string;
  let data: string;
  if (configured) {
    const dir = resolve(normalize(configured));
    if (basename(dir) === 'data') {
      data = dir;
      root = dirname(dir);
    } else {
      root = dir;
      data = join(dir, 'data');
    }
  } else {
    let user = env.USER || env.LOGNAME;
    if (!user) {
      try {
        user = userInfo().username;
      } catch {
        user = undefined;
      }
    }
    const scratch = user ? join('/scratch', user, 'G2S') : undefined;
    root = scratch && existsSync(scratch) && statSync(scratch).isDirectory() ? scratch : '/tmp/G2S';
    data = join(root, 'data');
  }
  const dirs = { root, data, logs: join(root, 'logs') };
  mkdirSync(dirs.data, { recursive: true });
  mkdirSync(dirs.logs, { recursive: true });
  return dirs;
}

/** A path given by a client, accepted only inside the data directory (no escaping with .. or links). */
export function pathInside(dataDir: string, candidate: string): string | undefined {
  const base = resolve(dataDir);
  const full = resolve(base, candidate);
  if (full !== base && !full.startsWith(base + '/')) return undefined;
  return full;
}
