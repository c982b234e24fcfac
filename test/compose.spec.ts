/**
 * Static checks of the container setup (no Docker engine needed): docker-compose.yml and the Dockerfile must
 * start the same entry points as the end-to-end tests, share one data directory, and set only environment
 * variables that the services read (libs/protocol/src/service-config.ts).
 */
import 'reflect-metadata';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, posix, relative } from 'node:path';
import { parse } from 'yaml';
import { ServiceConfig } from '../libs/protocol/src/service-config';
import { SERVICE_ENTRY_POINTS } from './support/stack';

const ROOT = join(__dirname, '..');
const APP_SERVICES = ['coordinator', 'results', 'worker'] as const;
const ENTRY_POINT = /^dist\/apps\/([a-z][a-z0-9-]*)\/src\/main\.js$/;

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  container_name?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: (string | { source?: string; target?: string })[];
  [key: string]: unknown;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** docker-compose.yml as compose reads it (YAML merge keys `<<` resolved). */
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const serviceConfigSource = readFileSync(join(ROOT, 'libs', 'protocol', 'src', 'service-config.ts'), 'utf8');

function words(command: string | string[] | undefined): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command.map(String) : command.trim().split(/\s+/);
}

/** A path as the repository root sees it: dist/apps/<role>/src/main.js. */
function fromRoot(path: string): string {
  return posix.normalize((isAbsolute(path) ? relative(ROOT, path) : path).split('\\').join('/'));
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function volumeMounts(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      return { source, target };
    }
    return { source: v.source ?? '', target: v.target ?? '' };
  });
}

/** The stages of the Dockerfile, each with its instructions (comments dropped, continuation lines joined). */
function dockerStages(text: string): { from: string; instructions: { op: string; args: string }[] }[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: { from: string; instructions: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') stages.push({ from: m[2], instructions: [] });
    else if (stages.length > 0) stages[stages.length - 1].instructions.push({ op, args: m[2] });
  }
  return stages;
}

/** Values set by ENV instructions (both `ENV K=V ...` and `ENV K V`). */
function dockerEnv(instructions: { op: string; args: string }[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { op, args } of instructions) {
    if (op !== 'ENV') continue;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
      for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g))
        env[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
    } else {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(args);
      if (m) env[m[1]] = m[2].trim();
    }
  }
  return env;
}

/** Names declared as properties of ServiceConfig in its source (`NAME!: t`, `NAME?: t`, `NAME = v`, `NAME: t`). */
function declaredConfigProperties(source: string): Set<string> {
  const body = /export class ServiceConfig\s*\{([\s\S]*?)\n\}/.exec(source);
  if (!body) throw new Error('class ServiceConfig not found in libs/protocol/src/service-config.ts');
  return new Set(
    [...body[1].matchAll(/^\s*(?:readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[!?]?\s*[:=]/gm)].map((m) => m[1]),
  );
}

describe('docker-compose.yml', () => {
  it('has the services redis, coordinator, results and worker', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['redis', ...APP_SERVICES]));
  });

  it('runs Redis without eviction and with the append-only file (BullMQ needs both)', () => {
    const command = words(compose.services.redis.command).join(' ');
    expect(command).toMatch(/--maxmemory-policy\s+noeviction/);
    expect(command).toMatch(/--appendonly\s+yes/);
  });

  it('gives the worker no container_name, so that --scale worker=N works', () => {
    expect(compose.services.worker).toBeDefined();
    expect(compose.services.worker.container_name).toBeUndefined();
  });

  it.each(APP_SERVICES)('runs %s as `node <entry point>` whose TypeScript source exists', (name) => {
    const command = words(compose.services[name].command);
    expect(command).toHaveLength(2);
    expect(command[0]).toBe('node');
    const entry = fromRoot(command[1]);
    const role = ENTRY_POINT.exec(entry)?.[1];
    expect(role).toBeDefined();
    expect(['coordinator', 'results', 'worker']).toContain(role);
    expect(existsSync(join(ROOT, 'apps', role!, 'src', 'main.ts'))).toBe(true);
  });

  it('starts exactly the entry points that the end-to-end tests start (test/support/stack.ts)', () => {
    const tested = Object.values(SERVICE_ENTRY_POINTS as Record<string, string> | string[]).map((p) =>
      fromRoot(String(p)),
    );
    for (const entry of tested) expect(entry).toMatch(ENTRY_POINT);
    const composed = APP_SERVICES.map((name) => fromRoot(words(compose.services[name].command)[1]));
    expect([...new Set(composed)].sort()).toEqual([...new Set(tested)].sort());
  });

  it('mounts the same named volume at /data in every app service, with G2S_DATA_DIR=/data', () => {
    const sources = new Set<string>();
    for (const name of APP_SERVICES) {
      const service = compose.services[name];
      expect(environmentOf(service).G2S_DATA_DIR).toBe('/data');
      const mount = volumeMounts(service).find((v) => v.target === '/data');
      expect(mount).toBeDefined();
      sources.add(mount!.source);
    }
    expect([...sources]).toEqual(['dqs-data']);
    expect(Object.keys(compose.volumes ?? {})).toContain('dqs-data');
  });

  it('sets, for the apps, only environment variables that ServiceConfig declares', () => {
    const known = new Set([
      ...Object.keys(new ServiceConfig()),
      ...declaredConfigProperties(serviceConfigSource),
    ]);
    // sanity: the parser of the source sees the properties declared without initialiser
    for (const name of [
      'REDIS_URL',
      'G2S_DATA_DIR',
      'DQS_TOKEN',
      'DQS_BOARD_PASSWORD',
      'DQS_THREADS',
      'PORT',
      'DQS_SLOTS',
    ]) {
      expect(known).toContain(name);
    }
    for (const name of APP_SERVICES) {
      const env = environmentOf(compose.services[name]);
      expect(env.REDIS_URL).toMatch(/^rediss?:\/\/redis:6379/);
      const unknown = Object.keys(env).filter((k) => !known.has(k));
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
    }
  });
});

describe('Dockerfile', () => {
  const stages = dockerStages(dockerfile);
  const final = stages[stages.length - 1];

  it('is multi-stage, with `npm run build` in a build stage and not in the final one', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runs = (stage: (typeof stages)[number]) =>
      stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(stages.slice(0, -1).some((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)))).toBe(true);
    expect(runs(final).some((r) => /\bnpm run build\b/.test(r))).toBe(false);
  });

  it('starts the coordinator by default', () => {
    const starts = final.instructions.filter((i) => i.op === 'CMD' || i.op === 'ENTRYPOINT');
    expect(starts.length).toBeGreaterThan(0);
    expect(starts.map((i) => i.args).join(' ')).toContain('dist/apps/coordinator/src/main.js');
  });

  it('sets G2S_DATA_DIR=/data in the final stage', () => {
    expect(dockerEnv(final.instructions).G2S_DATA_DIR).toBe('/data');
  });
});
