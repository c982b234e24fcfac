/** `dqs fetch`: archived outputs matching a filter, copied to a local folder (from a server, or the data directory). */
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_NAMESPACE, parseDateFilter, parseJobRanges, scopeFilterProblem } from '@dqs/protocol';
import { ArchivedRun, archiveRoot, listArchive, resolveDataDirs } from '@dqs/store';
import { writeFileAtomic } from '@dqs/grids';
import { SERVER_FLAGS, detached, givenServer } from '../connection';
import { parseG2sArgs, singleString, switchFlag, UsageError } from '../g2s-args';

export const FETCH_HELP = `dqs fetch -o DIR [filter] [--index] [--list] [--server URL]

Copies archived outputs (chunks, mosaics, each run's manifest.json) into DIR/<namespace>/<batch>/<run>/.
Filter (all optional, combined):
  --namespace NS     default DQS_NAMESPACE, else 'default' (with --run: any); '*' for every namespace
                     (names may use *)
  --batch NAME       a batch (or a pattern with *)
  --run RUN          one run
  --jobs 1-6,15      only these chunks (then no mosaic)
  --since D --until D --date DAY   when the run ended: YYYY-MM-DD (a whole day, UTC), an ISO time, or an
                     age such as 3d, 12h
  --index            the index images too
  --list             print what matches, copy nothing
With --server (or DQS_URL) it fetches from that server's archive; without, from this machine's data directory
(G2S_DATA_DIR rules), where attached runs archive their outputs. Files already in DIR with the same size are
not copied again.
`;

export async function runFetch(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    o: ['-o', '--output'],
    namespace: ['--namespace', '-ns'],
    batch: ['--batch'],
    run: ['--run'],
    jobs: ['--jobs'],
    since: ['--since'],
    until: ['--until'],
    date: ['--date'],
    index: ['--index'],
    list: ['--list'],
  });
  if (switchFlag(flags, 'help')) {
    process.stdout.write(FETCH_HELP);
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const out = singleString(flags, 'o', '-o');
  const listOnly = switchFlag(flags, 'list', '--list');
  if (!out && !listOnly) throw new UsageError('-o DIR is required (or --list to see what matches)');
  if (out && existsSync(out) && !statSync(out).isDirectory())
    throw new UsageError(`-o ${out} is a file; give a folder (it is created when missing)`);
  // a run id is unique across namespaces: with --run alone, any namespace
  const namespace =
    singleString(flags, 'namespace', '--namespace') ??
    (flags.has('run') ? '*' : process.env.DQS_NAMESPACE || DEFAULT_NAMESPACE);
  const batch = singleString(flags, 'batch', '--batch');
  for (const [what, v] of [
    ['namespace', namespace],
    ['batch', batch],
  ] as const) {
    const problem = scopeFilterProblem(what, v);
    if (problem) throw new UsageError(problem);
  }
  const q: Record<string, string> = { namespace };
  const opt = (name: string, flag: string) => {
    const v = singleString(flags, name, flag);
    if (v !== undefined) q[name] = v;
    return v;
  };
  opt('batch', '--batch');
  opt('run', '--run');
  const jobs = opt('jobs', '--jobs');
  const since = opt('since', '--since');
  const until = opt('until', '--until');
  const date = opt('date', '--date');
  const index = switchFlag(flags, 'index', '--index');
  if (index) q.index = 'true';
  let dates: { since?: Date; until?: Date };
  let jobSet: Set<string> | undefined;
  try {
    dates = parseDateFilter({ since, until, date });
    jobSet = jobs ? new Set(parseJobRanges(jobs).map(String)) : undefined;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const describe = Object.entries(q)
    .filter(([k]) => k !== 'index')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

  let runs: ArchivedRun[];
  let read: (path: string) => Promise<Uint8Array | string>;
  let where: string;
  if (givenServer(flags)) {
    const c = detached(flags, 'fetch');
    runs = await c.json<ArchivedRun[]>('GET', `/v1/archive?${new URLSearchParams(q)}`);
    read = (path) => c.bytes(`/v1/archive/${path.split('/').map(encodeURIComponent).join('/')}`);
    where = `the archive of ${c.url}`;
  } else {
    const dataDir = resolveDataDirs(process.env).data;
    runs = listArchive(dataDir, {
      namespace,
      batch,
      runId: q.run,
      jobs: jobSet,
      index,
      ...dates,
    });
    const root = archiveRoot(dataDir);
    read = (path) => Promise.resolve(join(root, path));
    where = `${root} (no --server or DQS_URL: this machine's archive)`;
  }
  const files = runs.flatMap((r) => r.files);
  if (runs.length === 0) {
    process.stderr.write(`dqs fetch: nothing in ${where} matches ${describe}\n`);
    return 1;
  }
  if (listOnly || !out) {
    for (const r of runs) {
      const m = r.manifest;
      process.stdout.write(
        `${m.namespace}/${m.batch}/${m.runId}  ${m.state}  ${m.finishedAt ?? m.createdAt}  ${r.files.filter((f) => f.kind !== 'manifest').length} file(s)\n`,
      );
      for (const f of r.files)
        if (f.kind !== 'manifest') process.stdout.write(`  ${f.path} (${f.bytes} bytes)\n`);
    }
    return 0;
  }
  let copied = 0;
  let bytes = 0;
  let kept = 0;
  for (const f of files) {
    const target = join(out, ...f.path.split('/'));
    if (f.kind !== 'manifest' && existsSync(target) && statSync(target).size === f.bytes) {
      kept++;
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    const src = await read(f.path);
    if (typeof src === 'string') copyFileSync(src, target);
    else writeFileAtomic(target, src);
    copied++;
    bytes += f.bytes;
  }
  process.stdout.write(
    `fetched ${copied} file(s) (${(bytes / 1048576).toFixed(1)} MiB) of ${runs.length} run(s) into ${out}` +
      (kept ? `; ${kept} already there` : '') +
      '\n',
  );
  return 0;
}
